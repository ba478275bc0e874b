/**
 * Which store sessions are alive, through Web Locks: each open store (a tab's or a worker's
 * connection) holds an exclusive lock named after it for as long as it lives, and the
 * browser releases it when the tab or worker goes, crash included. Each staged write records
 * its session, so garbage collection can tell a write in progress in another tab (its lock
 * is held: never touched, however long it has been idle) from one whose tab is gone (an
 * orphan at once) without guessing from its age. Where Web Locks are missing (Node, old
 * browsers) both functions say so with undefined, and collection falls back to age.
 */
export interface StoreSession {
  readonly id: string;
  /** Releases the lock: the session counts as gone from then on. */
  release(): void;
}

// The structural slice of LockManager we use, so Node (no navigator.locks) type-checks.
interface LockManagerLike {
  request(name: string, callback: () => Promise<void>): Promise<void>;
  query(): Promise<{ held?: { name?: string }[] }>;
}

function lockManager(): LockManagerLike | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
}

const prefix = (dbName: string) => `shrinkray-store:${dbName}:session:`;

/** Takes this session's lock (waiting until it is held); undefined where Web Locks are missing. */
export async function acquireSession(dbName: string, id: string): Promise<StoreSession | undefined> {
  const locks = lockManager();
  if (!locks) return undefined;
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    void locks.request(`${prefix(dbName)}${id}`, () => {
      resolve();
      return new Promise<void>((done) => {
        release = done;
      });
    });
  });
  await held;
  return { id, release: () => release() };
}

/** The ids of the sessions whose lock is held right now (in any tab or worker of this origin); undefined where Web Locks are missing. */
export async function liveSessions(dbName: string): Promise<Set<string> | undefined> {
  const locks = lockManager();
  if (!locks) return undefined;
  const p = prefix(dbName);
  const { held = [] } = await locks.query();
  return new Set(
    held
      .map((l) => l.name ?? '')
      .filter((n) => n.startsWith(p))
      .map((n) => n.slice(p.length)),
  );
}

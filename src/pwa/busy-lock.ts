import { ShrinkrayError } from '../errors.ts';

/**
 * "Work is running: do not reload." Long jobs (download, compression, evaluation) hold the
 * shared Web Lock BUSY_LOCK while they run; the service worker's page code (register.ts) takes
 * it exclusively before any reload it starts, so it waits for every running job to finish.
 * Web Locks span the origin's tabs, so a job in one tab also holds back an update in another.
 *
 * The page holds the shared lock once, however many jobs and calls nest inside each other
 * (a job's whileBusy around the client's own): a second shared request from inside the first
 * would queue behind a pending exclusive one (an update or the reload into isolation asked
 * for meanwhile) and wait for ever, the exclusive one waiting on the first. Measured in
 * Firefox 153 and as the Web Locks spec orders requests; it froze a job with no error.
 */
export const BUSY_LOCK = 'shrinkray:busy';

/** How long a job waits to join the busy lock before it fails with 'timeout' (only a pending update holds it back). */
export const BUSY_LOCK_WAIT_MS = 15_000;

const locks = (): LockManager | undefined => (globalThis.navigator as Navigator | undefined)?.locks;

let holders = 0; // calls inside whileBusy in this page
let held: Promise<void> | undefined; // resolves once this page holds the shared lock
let release: (() => void) | undefined;

function holdShared(manager: LockManager, waitMs: number): Promise<void> {
  return new Promise<void>((granted, fail) => {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
      fail(
        new ShrinkrayError(
          'timeout',
          `waited ${Math.round(waitMs / 1000)} s for the Web Lock '${BUSY_LOCK}': an update of Shrinkray (in this tab or another) ` +
            'is waiting for running jobs to finish; let them finish or close the other tab, then try again',
        ),
      );
    }, waitMs);
    manager
      .request(BUSY_LOCK, { mode: 'shared', signal: controller.signal }, () => {
        clearTimeout(timer);
        granted();
        return new Promise<void>((done) => (release = done));
      })
      .catch(() => undefined); // the abort above, already reported
  });
}

/** Runs `work` while this page holds the busy lock (shared: jobs do not wait for each other; nested calls share one hold). */
export async function whileBusy<T>(work: () => Promise<T>, waitMs = BUSY_LOCK_WAIT_MS): Promise<T> {
  const manager = locks();
  // No Web Locks (very old browsers): run anyway; a reload may then interrupt the job.
  if (!manager) return work();
  holders++;
  try {
    await (held ??= holdShared(manager, waitMs));
    return await work();
  } finally {
    if (--holders === 0) {
      release?.();
      release = undefined;
      held = undefined;
    }
  }
}

/** Resolves once no job holds the busy lock (at once when none does). */
export async function whenIdle(): Promise<void> {
  await locks()?.request(BUSY_LOCK, { mode: 'exclusive' }, () => undefined);
}

/** Whether a job holds the busy lock now. */
export async function isBusy(): Promise<boolean> {
  const state = await locks()?.query();
  return !!state?.held?.some((l) => l.name === BUSY_LOCK);
}

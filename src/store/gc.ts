import { chunkRange, type StoreDb } from './idb-schema.ts';
import type { GarbageReport } from './store-types.ts';

/**
 * Garbage collection: what an interrupted session left behind. A write that was cut (tab
 * closed, crash, quota) leaves chunks and a staging record but no model; a replaced or
 * deleted model may leave files. Resumable stages (downloads) are kept for a while so a
 * reload can resume them; the others cannot continue and go at the next start.
 * Which session is alive comes from Web Locks (session-lock.ts) where the browser has them:
 * a stage whose session holds its lock is never collected, however long it has been idle,
 * and a non-resumable one whose session is gone is collected at once. Without Web Locks,
 * a non-resumable stage idle for `orphanAfterMs` counts as an orphan.
 */
export interface GcOptions {
  /** Stages this session is writing right now: never collected. */
  live: ReadonlySet<string>;
  /**
   * Sessions alive when collection began (their Web Locks are held), with the time it was
   * asked; undefined where Web Locks are missing. A stage written after `at` may belong to
   * a session that started since, so it is left alone.
   */
  sessions?: { live: ReadonlySet<string>; at: number };
  /** Without Web Locks: non-resumable stages untouched for this long are orphans (default 10 minutes). */
  orphanAfterMs?: number;
  /** Resumable stages untouched for this long are dropped (default 7 days). */
  resumableMaxAgeMs?: number;
  now?: number;
}

const MINUTE = 60_000;

export async function collectGarbage(db: StoreDb, opts: GcOptions): Promise<GarbageReport> {
  const now = opts.now ?? Date.now();
  const orphanAfter = opts.orphanAfterMs ?? 10 * MINUTE;
  const resumableMaxAge = opts.resumableMaxAgeMs ?? 7 * 24 * 60 * MINUTE;
  const report: GarbageReport = { chunksDeleted: 0, filesDeleted: 0, stagesDeleted: 0 };

  // One transaction over every store: a commit cannot slip in between deciding and deleting.
  const tx = db.transaction(['chunks', 'files', 'staging', 'models'], 'readwrite');
  const keep = new Set<string>();
  for (const m of await tx.objectStore('models').getAll()) for (const f of m.files) keep.add(f.fileId);

  const staging = tx.objectStore('staging');
  for (const s of await staging.getAll()) {
    const age = now - s.updatedAt;
    const sessions = opts.sessions;
    const ownerAlive = sessions !== undefined && s.owner !== undefined && sessions.live.has(s.owner);
    const ownerGone = sessions !== undefined && !ownerAlive && s.updatedAt < sessions.at;
    const stale = ownerAlive ? false : s.resumable ? age >= resumableMaxAge : sessions !== undefined ? ownerGone : age >= orphanAfter;
    if (stale && !opts.live.has(s.stageKey) && !keep.has(s.fileId)) {
      await staging.delete(s.stageKey);
      report.stagesDeleted++;
    } else {
      keep.add(s.fileId);
    }
  }

  const files = tx.objectStore('files');
  for (const fileId of await files.getAllKeys()) {
    if (keep.has(fileId)) continue;
    await files.delete(fileId);
    report.filesDeleted++;
  }

  // Chunk keys only (no values): cheap even for gigabytes of chunks.
  const chunks = tx.objectStore('chunks');
  const orphanChunks = new Map<string, number>();
  for (const [fileId] of await chunks.getAllKeys()) {
    if (!keep.has(fileId)) orphanChunks.set(fileId, (orphanChunks.get(fileId) ?? 0) + 1);
  }
  for (const [fileId, count] of orphanChunks) {
    await chunks.delete(chunkRange(fileId));
    report.chunksDeleted += count;
  }
  await tx.done;
  return report;
}

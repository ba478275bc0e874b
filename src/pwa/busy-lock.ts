/**
 * "Work is running: do not reload." Long jobs (download, compression, evaluation) hold the
 * shared Web Lock BUSY_LOCK while they run; the service worker's page code (register.ts) takes
 * it exclusively before any reload it starts, so it waits for every running job to finish.
 * Web Locks span the origin's tabs, so a job in one tab also holds back an update in another.
 */
export const BUSY_LOCK = 'shrinkray:busy';

const locks = (): LockManager | undefined => (globalThis.navigator as Navigator | undefined)?.locks;

/** Runs `work` while holding the busy lock (shared: jobs do not wait for each other). */
export function whileBusy<T>(work: () => Promise<T>): Promise<T> {
  const manager = locks();
  // No Web Locks (very old browsers): run anyway; a reload may then interrupt the job.
  return manager ? (manager.request(BUSY_LOCK, { mode: 'shared' }, work) as Promise<T>) : work();
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

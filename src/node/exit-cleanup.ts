import { constants } from 'node:os';

/**
 * What a CLI run must undo when it is stopped by a signal (Ctrl-C, `kill`, a closed terminal):
 * its temporary output folder, or an --out half way through being replaced. Node's default for
 * these signals is to die at once, leaving `.<out>.shrinkray-PID-*` beside --out; with these
 * handlers the run removes what it created, then exits as the signal would have (128 + its
 * number). A download's part file is kept: the next run resumes it.
 *
 * Cleanups are synchronous: after a signal nothing else of the run may get a turn.
 */
const cleanups = new Set<() => void>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const handlers = SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);

function onSignal(signal: (typeof SIGNALS)[number]): void {
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // one failed cleanup must not keep the others from running
    }
  }
  process.stderr.write(`shrinkray: stopped by ${signal}; the unfinished output was removed and --out is as it was\n`);
  process.exit(128 + constants.signals[signal]);
}

/**
 * Runs `cleanup` if a signal stops the process; the returned function withdraws it (call it
 * once the work is safe). The handlers are installed only while a cleanup is pending, so the
 * signals keep their default meaning otherwise.
 */
export function cleanUpOnSignal(cleanup: () => void): () => void {
  if (cleanups.size === 0) for (const [signal, handler] of handlers) process.on(signal, handler);
  cleanups.add(cleanup);
  return () => {
    if (cleanups.delete(cleanup) && cleanups.size === 0) for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

import * as Comlink from 'comlink';
import type { WorkerOptions } from './protocol.ts';
import { guardWorker } from './tokenizer-watchdog.ts';
import { firstAnswer } from './worker-start.ts';

/**
 * A worker whose tokenizer calls are watched (tokenizer-watchdog.ts): when one outlasts its
 * budget, the worker is terminated, every call still waiting on it fails with the watchdog's
 * 'bad_file' error naming tokenizer.json, and a fresh worker, configured alike, takes the
 * next call. The chat worker tokenizes prompts and evaluation text, the compress worker
 * calibration text: both run the model's own regular expressions.
 */
export interface WatchedWorker<Api> {
  /** Runs one call on the current worker; it fails if the watchdog stops that worker first. */
  run<T>(call: (api: Comlink.Remote<Api>) => Promise<T>): Promise<T>;
  terminate(): void;
}

interface Handle<Api> {
  worker: Worker;
  api: Comlink.Remote<Api>;
  ready: Promise<void>;
  dead: Promise<never>;
}

/**
 * `create` makes the worker (a literal `new Worker(new URL(...))`, so the bundler finds its
 * script); `name` names it when its first answer does not come in time (worker-start.ts);
 * `restarted` ends the watchdog's error.
 */
export function watchedWorker<Api extends { configure(o: WorkerOptions): void | Promise<void> }>(
  create: () => Worker,
  name: string,
  options: WorkerOptions,
  budgetMs: number | undefined,
  restarted: string,
): WatchedWorker<Api> {
  const start = (): Handle<Api> => {
    const worker = create();
    const api = Comlink.wrap<Api>(worker);
    let kill!: (e: Error) => void;
    const dead = new Promise<never>((_, reject) => {
      kill = reject;
    });
    dead.catch(() => undefined); // observed by the calls that race it; none may be waiting
    const stopWatching = guardWorker(
      worker,
      (error) => {
        stopWatching();
        worker.terminate();
        kill(error);
        current = start();
      },
      budgetMs,
      restarted,
    );
    const remote = api as unknown as { configure(o: WorkerOptions): Promise<void> };
    return { worker, api, ready: firstAnswer(remote.configure(options), name), dead };
  };
  let current = start();
  return {
    run: async (call) => {
      const w = current;
      await Promise.race([w.ready, w.dead]);
      return Promise.race([call(w.api), w.dead]);
    },
    terminate: () => current.worker.terminate(),
  };
}

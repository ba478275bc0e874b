import { deserializeError, serializeError, ShrinkrayError, type SerializedShrinkrayError } from '../errors.ts';

/**
 * The start-up and bookkeeping the kernel pools share (quantize-pool.ts, calib-pool.ts): every
 * worker is sent the compiled module and answers 'ready'; then each job carries an id, and its
 * answer ('done' with the job's fields, or 'error') settles that job's promise. An error crosses
 * as SerializedShrinkrayError (src/errors.ts), so a bad_argument raised inside a worker is a
 * bad_argument here too, not a runtime_error with the code lost.
 */

/** What a pool needs of a worker; adapters wrap a Web Worker (webPoolWorker) or a Node worker_threads Worker. */
export interface PoolWorker<Request, Reply> {
  postMessage(message: Request, transfer: Transferable[]): void;
  onMessage(handler: (message: Reply) => void): void;
  terminate(): void;
}

/** A worker's answers: ready after init; per job done or error; an error with id null is the worker's own failure. */
export type PoolReply<Done extends object> =
  { type: 'ready' } | ({ type: 'done'; id: number } & Done) | { type: 'error'; id: number | null; error: SerializedShrinkrayError };

/** A request other than init; jobs carry an id the pool assigns. */
type Message<Request> = Request extends { type: 'init' } ? never : Request;
/** A job message before the pool numbers it. */
type Unnumbered<Request> = Request extends { id: number } ? Omit<Request, 'id'> : never;

export interface WorkerPool<Request, Done> {
  readonly size: number;
  /** Sends worker `i` a job and resolves with its 'done' answer. */
  job(i: number, message: Unnumbered<Request>, transfer?: Transferable[]): Promise<Done>;
  /** Sends worker `i` a message that expects no answer (a weight to keep, say). */
  post(i: number, message: Message<Request>, transfer?: Transferable[]): void;
  /** Stops the workers; jobs still out fail with 'aborted'. */
  close(): void;
}

/**
 * How long a worker may take to answer 'ready' (its script loaded, the module instantiated):
 * about a second on a busy 2-core machine. A browser can leave a nested worker unstarted without
 * an error event (Firefox under load was seen to), so the wait has a bound; the callers then
 * run the kernel on their own thread.
 */
export const POOL_START_TIMEOUT_MS = 30_000;

/**
 * Starts a pool on `workers` (each sent `{ type: 'init', module }`); resolves once all are ready,
 * or fails with a 'timeout' ShrinkrayError naming the worker that did not answer within `startTimeoutMs`.
 * `what` names the pool in messages ('quantize', 'calibration').
 */
export async function createWorkerPool<Request extends { type: string }, Done extends object>(
  what: string,
  module: WebAssembly.Module,
  workers: readonly PoolWorker<Request, PoolReply<Done>>[],
  startTimeoutMs = POOL_START_TIMEOUT_MS,
): Promise<WorkerPool<Request, Done>> {
  const pending = new Map<number, { resolve: (d: Done) => void; reject: (e: unknown) => void }>();
  const failAll = (e: ShrinkrayError) => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  const timers: ReturnType<typeof setTimeout>[] = [];
  const ready = workers.map(
    (w, i) =>
      new Promise<void>((resolve, reject) => {
        let started = false;
        const seconds = Math.round(startTimeoutMs / 100) / 10;
        timers.push(
          setTimeout(() => reject(new ShrinkrayError('timeout', `${what} worker ${i} did not start within ${seconds} s`)), startTimeoutMs),
        );
        w.onMessage((m) => {
          if (m.type === 'ready') {
            started = true;
            clearTimeout(timers[i]);
            return resolve();
          }
          if (m.id === null) {
            // The worker itself failed (its script, its memory): before 'ready' the pool does not
            // start; after, the jobs out would wait for an answer that will not come.
            if (m.type !== 'error') return;
            if (!started) return reject(deserializeError(m.error, `${what} worker failed to start`));
            return failAll(deserializeError(m.error, `${what} worker stopped`));
          }
          const p = pending.get(m.id);
          if (!p) return;
          pending.delete(m.id);
          if (m.type === 'done') p.resolve(m);
          else p.reject(deserializeError(m.error));
        });
        w.postMessage({ type: 'init', module } as unknown as Request, []);
      }),
  );
  try {
    await Promise.all(ready);
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  } finally {
    for (const t of timers) clearTimeout(t);
  }
  let nextId = 0;
  return {
    size: workers.length,
    job: (i, message, transfer = []) =>
      new Promise<Done>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        workers[i]!.postMessage({ ...message, id } as unknown as Request, transfer);
      }),
    post: (i, message, transfer = []) => workers[i]!.postMessage(message, transfer),
    close() {
      for (const w of workers) w.terminate();
      failAll(new ShrinkrayError('aborted', `${what} pool closed`));
    },
  };
}

/**
 * A module Web Worker as a pool worker. Its 'error' event (an uncaught throw, a script that does
 * not load) and 'messageerror' arrive as the worker's own failure.
 */
export function webPoolWorker<Request, Done extends object>(worker: Worker): PoolWorker<Request, PoolReply<Done>> {
  return {
    postMessage: (m, t) => worker.postMessage(m, t),
    onMessage: (h) => {
      const failed = (message: string) =>
        h({ type: 'error', id: null, error: serializeError(new ShrinkrayError('runtime_error', message)) });
      worker.onmessage = (e: MessageEvent<PoolReply<Done>>) => h(e.data);
      worker.onerror = (e) => failed(e.message || 'the worker script failed');
      worker.onmessageerror = () => failed('a message from the worker could not be read');
    },
    terminate: () => worker.terminate(),
  };
}

import { Worker } from 'node:worker_threads';
import { serializeError, ShrinkrayError } from '../errors.ts';
import type { PoolReply, PoolWorker } from '../kernels/worker-pool.ts';
import { tsWorkerBootstrap } from './ts-worker.ts';

/**
 * A worker_threads worker running a kernel pool's TypeScript entry (quantize-worker-node.ts,
 * calib-worker-node.ts), as the pool (src/kernels/worker-pool.ts) wants it. An uncaught error
 * in the thread, or its end, reaches the pool as the worker's own failure, its code kept.
 * `unref`: an idle pool does not keep the process alive.
 */
export function nodePoolWorker<Request, Done extends object>(
  entry: URL,
  opts: { unref?: boolean } = {},
): PoolWorker<Request, PoolReply<Done>> {
  const w = new Worker(tsWorkerBootstrap(entry), { eval: true });
  if (opts.unref) w.unref();
  let terminated = false;
  return {
    postMessage: (m, t) => w.postMessage(m, t as never),
    onMessage: (h) => {
      w.on('message', h);
      w.on('error', (e) => h({ type: 'error', id: null, error: serializeError(e) }));
      w.on('exit', (code) => {
        if (!terminated)
          h({ type: 'error', id: null, error: serializeError(new ShrinkrayError('runtime_error', `the thread exited (code ${code})`)) });
      });
    },
    terminate: () => {
      terminated = true;
      void w.terminate();
    },
  };
}

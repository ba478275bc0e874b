import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createQuantizePool, type PoolWorker, type QuantizePool } from '../kernels/quantize/wasm/quantize-pool.ts';
import { readQuantizeWasm } from './kernel-wasm-node.ts';
import { tsWorkerBootstrap } from './ts-worker.ts';

/**
 * A pool of worker_threads running the WASM quantizer, one per core by default. Workers load
 * their TypeScript entry through tsx (a dependency, see ts-worker.ts), whether the parent
 * runs under tsx, vitest or plain node.
 */
export async function createQuantizePoolNode(size = availableParallelism()): Promise<QuantizePool> {
  const module = await WebAssembly.compile(await readQuantizeWasm());
  const entry = new URL('./quantize-worker-node.ts', import.meta.url);
  const workers: PoolWorker[] = Array.from({ length: size }, () => {
    const w = new Worker(tsWorkerBootstrap(entry), { eval: true });
    return {
      postMessage: (m, t) => w.postMessage(m, t as never),
      onMessage: (h) => {
        w.on('message', h);
        w.on('error', (e) => h({ type: 'error', id: null, code: null, message: e.message }));
      },
      terminate: () => void w.terminate(),
    };
  });
  return createQuantizePool(module, workers);
}

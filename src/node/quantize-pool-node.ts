import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createQuantizePool, type PoolWorker, type QuantizePool } from '../kernels/quantize/wasm/quantize-pool.ts';
import { readQuantizeWasm } from './kernel-wasm-node.ts';

/**
 * A pool of worker_threads running the WASM quantizer, one per core by default. Workers load
 * their TypeScript entry through tsx (a dependency), whether the parent runs under tsx,
 * vitest or plain node.
 */
export async function createQuantizePoolNode(size = availableParallelism()): Promise<QuantizePool> {
  const module = await WebAssembly.compile(await readQuantizeWasm());
  const entry = new URL('./quantize-worker-node.ts', import.meta.url);
  const workers: PoolWorker[] = Array.from({ length: size }, () => {
    const w = new Worker(bootstrap(entry), { eval: true });
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

// The worker entry is TypeScript: register tsx's loader inside the worker, then import it.
// (Passing `--import tsx` in execArgv does not reach worker threads on Node 20.)
// tsx is resolved here, from this package, so the worker finds it whatever the cwd is.
function bootstrap(entry: URL): string {
  // (Under vitest import.meta.resolve may be missing; the bare name then resolves from the cwd.)
  const tsxApi = typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : 'tsx/esm/api';
  return `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
}

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createCalibPool, type CalibPool, type CalibPoolWorker } from '../kernels/calib/wasm/calib-pool.ts';
import { readCalibWasm } from './kernel-wasm-node.ts';

/**
 * A pool of worker_threads running calib.wasm, one per core by default. Workers load their
 * TypeScript entry through tsx, as the quantize pool's do (quantize-pool-node.ts). Unref'd:
 * an idle pool does not keep the process alive.
 */
export async function createCalibPoolNode(size = availableParallelism()): Promise<CalibPool> {
  const module = await WebAssembly.compile(await readCalibWasm());
  const entry = new URL('./calib-worker-node.ts', import.meta.url);
  const tsxApi = resolveTsx();
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  const workers: CalibPoolWorker[] = Array.from({ length: size }, () => {
    const w = new Worker(bootstrap, { eval: true });
    w.unref();
    return {
      postMessage: (m, t) => w.postMessage(m, t as never),
      onMessage: (h) => {
        w.on('message', h);
        w.on('error', (e) => h({ type: 'error', id: null, message: e.message }));
      },
      terminate: () => void w.terminate(),
    };
  });
  return createCalibPool(module, workers);
}

/** tsx's loader API, resolved from this package; some module runners (Vitest's global setup) have no working import.meta.resolve. */
function resolveTsx(): string {
  try {
    if (typeof import.meta.resolve === 'function') return import.meta.resolve('tsx/esm/api');
  } catch {
    // fall through: the bare name resolves from the working folder
  }
  return 'tsx/esm/api';
}

import { createQuantizePool, type PoolWorker, type QuantizePool } from './quantize-pool.ts';
import { quantizeWasmUrl } from './quantize-wasm-url.ts';

/** A pool of module Web Workers, one per core by default (navigator.hardwareConcurrency). */
export async function createQuantizePoolBrowser(
  size = navigator.hardwareConcurrency || 2,
  wasmUrl: URL = quantizeWasmUrl,
): Promise<QuantizePool> {
  const module = await WebAssembly.compileStreaming(fetch(wasmUrl));
  const workers: PoolWorker[] = Array.from({ length: size }, () => {
    const w = new Worker(new URL('./quantize.worker.ts', import.meta.url), { type: 'module' });
    return {
      postMessage: (m, t) => w.postMessage(m, t),
      onMessage: (h) => {
        w.onmessage = (e) => h(e.data);
        w.onerror = (e) => h({ type: 'error', id: null, code: null, message: e.message });
      },
      terminate: () => w.terminate(),
    };
  });
  return createQuantizePool(module, workers);
}

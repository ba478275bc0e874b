import { webPoolWorker } from '../../worker-pool.ts';
import { createQuantizePool, type QuantizePool, type QuantizeWorker } from './quantize-pool.ts';
import { quantizeWasmUrl } from './quantize-wasm-url.ts';

/** A pool of module Web Workers, one per core by default (navigator.hardwareConcurrency). */
export async function createQuantizePoolBrowser(
  size = navigator.hardwareConcurrency || 2,
  wasmUrl: URL = quantizeWasmUrl,
): Promise<QuantizePool> {
  const module = await WebAssembly.compileStreaming(fetch(wasmUrl));
  const workers: QuantizeWorker[] = Array.from({ length: size }, () =>
    webPoolWorker(new Worker(new URL('./quantize.worker.ts', import.meta.url), { type: 'module' })),
  );
  return createQuantizePool(module, workers);
}

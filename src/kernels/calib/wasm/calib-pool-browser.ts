import { webPoolWorker } from '../../worker-pool.ts';
import { createCalibPool, type CalibPool, type CalibPoolWorker } from './calib-pool.ts';

/** A pool of module Web Workers running calib.wasm, one per core by default (navigator.hardwareConcurrency). */
export async function createCalibPoolBrowser(module: WebAssembly.Module, size = navigator.hardwareConcurrency || 2): Promise<CalibPool> {
  const workers: CalibPoolWorker[] = Array.from({ length: size }, () =>
    webPoolWorker(new Worker(new URL('./calib.worker.ts', import.meta.url), { type: 'module', name: 'shrinkray-calib' })),
  );
  return createCalibPool(module, workers);
}

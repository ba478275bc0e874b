import { availableParallelism } from 'node:os';
import { createCalibPool, type CalibPool } from '../kernels/calib/wasm/calib-pool.ts';
import { readCalibWasm } from './kernel-wasm-node.ts';
import { nodePoolWorker } from './pool-worker-node.ts';

/**
 * A pool of worker_threads running calib.wasm, one per core by default. Workers load their
 * TypeScript entry through tsx, as the quantize pool's do (quantize-pool-node.ts). Unref'd:
 * an idle pool does not keep the process alive.
 */
export async function createCalibPoolNode(size = availableParallelism()): Promise<CalibPool> {
  const module = await WebAssembly.compile(await readCalibWasm());
  const entry = new URL('./calib-worker-node.ts', import.meta.url);
  return createCalibPool(
    module,
    Array.from({ length: size }, () => nodePoolWorker(entry, { unref: true })),
  );
}

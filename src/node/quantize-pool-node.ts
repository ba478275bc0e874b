import { availableParallelism } from 'node:os';
import { createQuantizePool, type QuantizePool } from '../kernels/quantize/wasm/quantize-pool.ts';
import { readQuantizeWasm } from './kernel-wasm-node.ts';
import { nodePoolWorker } from './pool-worker-node.ts';

/**
 * A pool of worker_threads running the WASM quantizer, one per core by default. Workers load
 * their TypeScript entry through tsx (a dependency, see ts-worker.ts), whether the parent
 * runs under tsx, vitest or plain node.
 */
export async function createQuantizePoolNode(size = availableParallelism()): Promise<QuantizePool> {
  const module = await WebAssembly.compile(await readQuantizeWasm());
  const entry = new URL('./quantize-worker-node.ts', import.meta.url);
  return createQuantizePool(
    module,
    Array.from({ length: size }, () => nodePoolWorker(entry)),
  );
}

import { serializeError, ShrinkrayError } from '../../../errors.ts';
import type { PoolReply } from '../../worker-pool.ts';
import type { RtnOptions, RtnResult } from '../rtn-options.ts';
import { loadQuantizeWasm, type WasmRtnKernel } from './quantize-wasm.ts';

/**
 * The message protocol between a quantize pool and its workers, and the worker's side of
 * it. The same handler serves a browser Web Worker (quantize.worker.ts) and a Node
 * worker_threads worker (src/node/quantize-worker-node.ts); only the transport differs.
 */
export type PoolRequest =
  | { type: 'init'; module: WebAssembly.Module } // compile once on the main thread, instantiate per worker
  | { type: 'job'; id: number; weight: Float32Array; rows: number; K: number; opts: RtnOptions }; // weight: [rows, K]

/** 'done' carries the result for the job's rows only; errors keep their code (worker-pool.ts). */
export type PoolResponse = PoolReply<{ result: RtnResult }>;

type Post = (message: PoolResponse, transfer: Transferable[]) => void;

/** Returns the worker's message handler; `post` sends a response back to the pool. */
export function serveQuantizeWorker(post: Post): (message: PoolRequest) => Promise<void> {
  let kernel: WasmRtnKernel | null = null;
  return async (message) => {
    const id = message.type === 'job' ? message.id : null;
    try {
      if (message.type === 'init') {
        kernel = await loadQuantizeWasm(message.module);
        post({ type: 'ready' }, []);
        return;
      }
      if (!kernel) throw new ShrinkrayError('runtime_error', 'quantize worker: job before init');
      const result = kernel.quantizeRtn(message.weight, message.rows, message.K, message.opts);
      const transfer: Transferable[] = [result.packed.buffer, result.scales.buffer];
      if (result.zeroPoints) transfer.push(result.zeroPoints.buffer);
      post({ type: 'done', id: message.id, result }, transfer as Transferable[]);
    } catch (e) {
      post({ type: 'error', id, error: serializeError(e) }, []);
    }
  };
}

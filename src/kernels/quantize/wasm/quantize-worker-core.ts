import { isShrinkrayError } from '../../../errors.ts';
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

export type PoolResponse =
  | { type: 'ready' }
  | { type: 'done'; id: number; result: RtnResult } // result for the job's rows only
  | { type: 'error'; id: number | null; code: string | null; message: string };

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
      if (!kernel) throw new Error('quantize worker: job before init');
      const result = kernel.quantizeRtn(message.weight, message.rows, message.K, message.opts);
      const transfer: Transferable[] = [result.packed.buffer, result.scales.buffer];
      if (result.zeroPoints) transfer.push(result.zeroPoints.buffer);
      post({ type: 'done', id: message.id, result }, transfer as Transferable[]);
    } catch (e) {
      post({ type: 'error', id, code: isShrinkrayError(e) ? e.code : null, message: e instanceof Error ? e.message : String(e) }, []);
    }
  };
}

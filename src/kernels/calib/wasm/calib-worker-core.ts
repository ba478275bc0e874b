import { serializeError, ShrinkrayError } from '../../../errors.ts';
import type { PoolReply } from '../../worker-pool.ts';
import { loadCalibWasm, type AttentionShape, type PreparedWeight, type WasmCalibKernel } from './calib-wasm.ts';

/**
 * The message protocol between a calibration pool (calib-pool.ts) and its workers, and the
 * worker's side of it, for a browser Web Worker (calib.worker.ts) and a Node worker_threads
 * worker (src/node/calib-worker-node.ts) alike. Each job is one worker's share of a product:
 * a range of output columns, of Gram rows, or of KV heads. Every output value is computed by
 * one worker with the single-threaded kernel's own loop, so a pool's result is bit-identical
 * to the kernel's, whatever the number of workers.
 */
export type CalibPoolRequest =
  | { type: 'init'; module: WebAssembly.Module }
  | { type: 'weight'; key: number; weight: PreparedWeight } // this worker's columns of a weight, kept until evicted
  | { type: 'matmul'; id: number; key: number; x: Float32Array; T: number }
  | { type: 'gram'; id: number; x: Float32Array; b: Float32Array | null; T: number; K: number; i0: number; i1: number }
  | { type: 'attention'; id: number; q: Float32Array; k: Float32Array; v: Float32Array; s: AttentionShape; g0: number; g1: number };

/** 'done' carries the job's share of the product; errors keep their code (worker-pool.ts). */
export type CalibPoolResponse = PoolReply<{ y: Float32Array }>;

/** Weights a worker keeps (a layer's linears of both streams and a few products), oldest dropped first. */
export const WEIGHTS_KEPT = 32;

type Post = (message: CalibPoolResponse, transfer: Transferable[]) => void;

export function serveCalibWorker(post: Post): (message: CalibPoolRequest) => Promise<void> {
  let kernel: WasmCalibKernel | null = null;
  const weights = new Map<number, PreparedWeight>();
  return async (m) => {
    const id = 'id' in m ? m.id : null;
    try {
      if (m.type === 'init') {
        kernel = await loadCalibWasm(m.module);
        return post({ type: 'ready' }, []);
      }
      if (m.type === 'weight') {
        weights.set(m.key, m.weight);
        if (weights.size > WEIGHTS_KEPT) weights.delete(weights.keys().next().value!);
        return;
      }
      if (!kernel) throw new ShrinkrayError('runtime_error', 'calibration worker: job before init');
      let y: Float32Array;
      if (m.type === 'matmul') {
        const w = weights.get(m.key);
        if (!w) throw new ShrinkrayError('runtime_error', `calibration worker: weight ${m.key} was not sent or was dropped`);
        y = kernel.matmul(m.x, m.T, w);
      } else if (m.type === 'gram') {
        y = kernel.gramRows(m.x, m.b, m.T, m.K, m.i0, m.i1);
      } else {
        y = kernel.attentionGroups(m.q, m.k, m.v, m.s, m.g0, m.g1);
      }
      post({ type: 'done', id: m.id, y }, [y.buffer as ArrayBuffer]);
    } catch (e) {
      post({ type: 'error', id, error: serializeError(e) }, []);
    }
  };
}

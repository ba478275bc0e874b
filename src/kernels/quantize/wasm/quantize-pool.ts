import { ShrinkrayError } from '../../../errors.ts';
import { createWorkerPool, type PoolWorker } from '../../worker-pool.ts';
import { blobBytes, zeroPointRowBytes } from '../matmul-nbits-layout.ts';
import { blockCount, validateRtn, type RtnOptions, type RtnResult } from '../rtn-options.ts';
import { quantizeRtnReference } from '../rtn-reference.ts';
import type { PoolRequest, PoolResponse } from './quantize-worker-core.ts';

/** A quantize worker: a Web Worker (quantize-pool-browser.ts) or a Node worker_threads Worker (src/node/quantize-pool-node.ts). */
export type QuantizeWorker = PoolWorker<PoolRequest, PoolResponse>;

export interface QuantizePool {
  readonly size: number;
  /** Same contract and bit-identical output as quantizeRtnReference; rows are split across workers. */
  quantizeRtn(weight: Float32Array, N: number, K: number, opts: RtnOptions): Promise<RtnResult>;
  close(): void;
}

/** Starts the pool: every worker instantiates the compiled module before the pool is returned. */
export async function createQuantizePool(module: WebAssembly.Module, workers: QuantizeWorker[]): Promise<QuantizePool> {
  const pool = await createWorkerPool('quantize', module, workers);
  const run = async (i: number, weight: Float32Array, rows: number, K: number, opts: RtnOptions) => {
    const transfer = weight.buffer instanceof ArrayBuffer ? [weight.buffer] : [];
    return (await pool.job(i, { type: 'job', weight, rows, K, opts }, transfer)).result;
  };

  // Non-shared weights are staged in one reusable SharedArrayBuffer (where the platform has
  // one: Node, or a cross-origin isolated page) so workers read rows in place; calls are
  // serialized because they share it.
  const canShare = typeof SharedArrayBuffer !== 'undefined' && (globalThis.crossOriginIsolated ?? true);
  let staging: Float32Array | null = null;
  let queue: Promise<unknown> = Promise.resolve();

  async function quantizeNow(weight: Float32Array, N: number, K: number, opts: RtnOptions): Promise<RtnResult> {
    const kBlocks = blockCount(K, opts.blockSize);
    const rowPacked = kBlocks * blobBytes(opts.blockSize, opts.bits);
    const zpRow = zeroPointRowBytes(kBlocks, opts.bits);
    let source = weight;
    if (canShare && !(weight.buffer instanceof SharedArrayBuffer)) {
      if (!staging || staging.length < weight.length) staging = new Float32Array(new SharedArrayBuffer(weight.byteLength));
      staging.set(weight);
      source = staging;
    }
    const shared = canShare && source.buffer instanceof SharedArrayBuffer;
    const per = Math.ceil(N / workers.length);
    const jobs: Promise<RtnResult>[] = [];
    for (let i = 0, r0 = 0; r0 < N; i++, r0 += per) {
      const rows = Math.min(per, N - r0);
      // Without shared memory the worker gets a copy it owns (transferred, not cloned).
      const part = shared ? source.subarray(r0 * K, (r0 + rows) * K) : source.slice(r0 * K, (r0 + rows) * K);
      jobs.push(run(i, part, rows, K, opts));
    }
    let parts: RtnResult[];
    try {
      parts = await Promise.all(jobs);
    } catch (e) {
      // Name the first bad row and block of the whole tensor, as the reference does.
      if (e instanceof ShrinkrayError && e.code === 'bad_argument') quantizeRtnReference(weight, N, K, opts);
      throw e;
    }
    const packed = new Uint8Array(N * rowPacked); // [N, kBlocks, blob]
    const scales = opts.scaleDtype === 'f16' ? new Uint16Array(N * kBlocks) : new Float32Array(N * kBlocks); // [N, kBlocks]
    const zeroPoints = opts.symmetric ? null : new Uint8Array(N * zpRow); // [N, zpRow]
    parts.forEach((p, i) => {
      const r0 = i * per;
      packed.set(p.packed, r0 * rowPacked);
      if (scales instanceof Uint16Array) scales.set(p.scales as Uint16Array, r0 * kBlocks);
      else scales.set(p.scales as Float32Array, r0 * kBlocks);
      if (zeroPoints && p.zeroPoints) zeroPoints.set(p.zeroPoints, r0 * zpRow);
    });
    return { packed, scales, zeroPoints };
  }

  return {
    size: workers.length,
    quantizeRtn(weight, N, K, opts) {
      validateRtn(weight, N, K, opts);
      const result = queue.then(() => quantizeNow(weight, N, K, opts));
      queue = result.catch(() => undefined);
      return result;
    },
    close: () => pool.close(),
  };
}

import { createWorkerPool, type PoolWorker } from '../../worker-pool.ts';
import { padTo8, type AttentionShape, type PreparedWeight } from './calib-wasm.ts';
import { WEIGHTS_KEPT, type CalibPoolRequest, type CalibPoolResponse } from './calib-worker-core.ts';

/**
 * Calibration's products split over worker threads, each running the WASM SIMD kernel:
 * a linear layer by output columns, a Gram or cross product by rows, attention by KV heads.
 * Each output value comes from one worker through the single-threaded loop, so the result is
 * the same bits as calib-wasm.ts gives alone, for any pool size: the CLI and the page may
 * differ in cores and still write the same file. Each worker keeps its columns of the recent
 * weights, so a weight crosses once, not once per window.
 */

/** A calibration worker: a Web Worker (calib-pool-browser.ts) or a Node worker_threads Worker (src/node/calib-pool-node.ts). */
export type CalibPoolWorker = PoolWorker<CalibPoolRequest, CalibPoolResponse>;

export interface CalibPool {
  readonly size: number;
  /** y [T, N] = x [T, K] · Wᵀ for a prepared W (calib-wasm.ts's prepareWeight; the same object for the same weight). */
  matmul(x: Float32Array, T: number, w: PreparedWeight): Promise<Float32Array>;
  /** xᵀx (b null) or xᵀb, [K, K]. */
  gram(x: Float32Array, b: Float32Array | null, T: number, K: number): Promise<Float32Array>;
  attention(q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape): Promise<Float32Array>;
  close(): void;
}

export async function createCalibPool(module: WebAssembly.Module, workers: CalibPoolWorker[]): Promise<CalibPool> {
  const pool = await createWorkerPool('calibration', module, workers);
  const job = async (i: number, message: Parameters<typeof pool.job>[1]) => (await pool.job(i, message)).y;

  // Inputs go through shared memory where there is some (Node, a cross-origin isolated page):
  // every worker reads the same bytes, none is copied per worker. Calls come one at a time
  // (the block runner awaits each), so each input slot reuses one growing shared buffer.
  const canShare = typeof SharedArrayBuffer !== 'undefined' && (globalThis.crossOriginIsolated ?? true);
  const staging: Float32Array[] = [];
  const share = (a: Float32Array, slot: number): Float32Array => {
    if (!canShare) return a;
    if (!staging[slot] || staging[slot]!.length < a.length)
      staging[slot] = new Float32Array(new SharedArrayBuffer(Math.max(a.byteLength, 1 << 20)));
    const s = staging[slot]!.subarray(0, a.length);
    s.set(a);
    return s;
  };

  // Each worker's columns of each weight it holds, mirroring the worker's first-in first-out eviction.
  const keys = new WeakMap<PreparedWeight, number>();
  let nextKey = 0;
  const held = workers.map(() => new Map<number, true>());
  const columns = (N: number, part: number) => {
    const per = padTo8(Math.ceil(N / workers.length));
    return [Math.min(N, part * per), Math.min(N, (part + 1) * per)] as const;
  };

  return {
    size: workers.length,
    async matmul(x, T, w) {
      let key = keys.get(w);
      if (key === undefined) keys.set(w, (key = nextKey++));
      const xs = share(x.subarray(0, T * w.K), 0);
      const parts = workers.map(async (_, i) => {
        const [n0, n1] = columns(w.N, i);
        if (n1 <= n0) return null;
        if (!held[i]!.has(key)) {
          pool.post(i, { type: 'weight', key, weight: sliceColumns(w, n0, n1) });
          held[i]!.set(key, true);
          if (held[i]!.size > WEIGHTS_KEPT) held[i]!.delete(held[i]!.keys().next().value!);
        }
        return { n0, n1, y: await job(i, { type: 'matmul', key, x: xs, T }) };
      });
      const y = new Float32Array(T * w.N);
      for (const p of await Promise.all(parts)) {
        if (!p) continue;
        const width = p.n1 - p.n0;
        for (let t = 0; t < T; t++) y.set(p.y.subarray(t * width, (t + 1) * width), t * w.N + p.n0);
      }
      return y;
    },
    async gram(x, b, T, K) {
      const Kp = padTo8(K);
      const xs = share(x.subarray(0, T * K), 0);
      const bs = b && share(b.subarray(0, T * K), 1);
      const bounds = rowSplit(Kp, workers.length, b === null);
      const parts = await Promise.all(
        bounds.map(([i0, i1], i) => (i1 > i0 ? job(i, { type: 'gram', x: xs, b: bs, T, K, i0, i1 }) : Promise.resolve(null))),
      );
      const g = new Float32Array(K * K);
      bounds.forEach(([i0, i1], p) => {
        for (let i = i0; i < Math.min(i1, K); i++) g.set(parts[p]!.subarray((i - i0) * Kp, (i - i0) * Kp + K), i * K);
      });
      if (b === null) for (let i = 1; i < K; i++) for (let j = 0; j < i; j++) g[i * K + j] = g[j * K + i]!; // mirror, as the kernel does
      return g;
    },
    async attention(q, k, v, s) {
      const { T, numHeads: H, numKvHeads: KV, headDim: hd } = s;
      const [qs, ks, vs] = [share(q, 0), share(k, 1), share(v, 2)];
      const per = Math.ceil(KV / workers.length);
      const parts = await Promise.all(
        workers.map((_, i) =>
          i * per < KV
            ? job(i, { type: 'attention', q: qs, k: ks, v: vs, s, g0: i * per, g1: Math.min(KV, (i + 1) * per) })
            : Promise.resolve(null),
        ),
      );
      const out = new Float32Array(T * H * hd);
      const groupWidth = (H / KV) * hd;
      parts.forEach((p, i) => {
        if (!p) return;
        const width = p.length / T;
        for (let t = 0; t < T; t++) out.set(p.subarray(t * width, (t + 1) * width), t * H * hd + i * per * groupWidth);
      });
      return out;
    },
    close: () => pool.close(),
  };
}

/** Columns n0..n1 of a prepared weight, as a prepared weight of its own ([K, n1 - n0] padded to 8). */
function sliceColumns(w: PreparedWeight, n0: number, n1: number): PreparedWeight {
  const N = n1 - n0;
  const Np = padTo8(N);
  const wt = new Float32Array(w.K * Np);
  for (let k = 0; k < w.K; k++) wt.set(w.wt.subarray(k * w.Np + n0, k * w.Np + n1), k * Np);
  return { wt, N, K: w.K, Np };
}

/**
 * Row ranges [i0, i1) of a [Kp, Kp] product for each worker, cut at multiples of 4 so the
 * parts hold about the same work: the upper triangle's row i costs Kp - i, a full row Kp.
 */
function rowSplit(Kp: number, parts: number, triangle: boolean): [number, number][] {
  const cost = (i: number) => (triangle ? Kp - i : Kp);
  let total = 0;
  for (let i = 0; i < Kp; i++) total += cost(i);
  const bounds: [number, number][] = [];
  let i0 = 0;
  let done = 0;
  for (let p = 0; p < parts; p++) {
    let i1 = i0;
    while (i1 < Kp && (p === parts - 1 || done < (total * (p + 1)) / parts)) {
      for (let i = i1; i < i1 + 4; i++) done += cost(i);
      i1 += 4;
    }
    bounds.push([i0, Math.min(i1, Kp)]);
    i0 = Math.min(i1, Kp);
  }
  return bounds;
}

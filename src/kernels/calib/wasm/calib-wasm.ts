import { ShrinkrayError } from '../../../errors.ts';
import { align16, ensureMemory, instantiateKernel, type WasmSource } from '../../wasm-instance.ts';
import type { GptqBlockParams, GptqBuffers, GptqKernel } from '../gptq-kernel.ts';

/**
 * Loader for the WASM SIMD calibration kernel (./assembly/calib.ts): the linear layers,
 * the Gram matrix xᵀx and the causal attention of a calibration window, and the GPTQ /
 * SparseGPT column loop. It takes the module's bytes or a compiled module (the browser
 * fetches calibWasmUrl, Node reads the file in src/node/). Each call lays its buffers out
 * above heapBase(); the GPTQ buffers stay there for the whole loop of one weight.
 */

interface CalibExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  matmul(x: number, ldx: number, T: number, K: number, wt: number, Np: number, y: number, sub: number): void;
  gram(x: number, T: number, Kp: number, g: number, i0: number, i1: number): void;
  mirror(g: number, Kp: number): void;
  cross(a: number, b: number, T: number, Kp: number, g: number, i0: number, i1: number): void;
  attention(
    q: number,
    k: number,
    v: number,
    T: number,
    H: number,
    KV: number,
    hd: number,
    out: number,
    kt: number,
    probs: number,
    g0: number,
    g1: number,
    window: number,
  ): void;
  swiglu(gate: number, up: number, n: number): void;
  cholesky64(a: number, K: number): number;
  lowerInverse64(a: number, K: number, inv: number, x: number): void;
  gptqBlock(
    wt: number,
    Np: number,
    K: number,
    u: number,
    i1: number,
    i2: number,
    err: number,
    keep: number,
    nmN: number,
    nmM: number,
    quant: number,
    bits: number,
    symmetric: number,
    group: number,
    dynamic: number,
    search: number,
    scales: number,
    zeros: number,
    groupOf: number,
    codes: number,
  ): void;
}

/** A linear weight W [N, K] laid out for the kernel: transposed, rows padded to a multiple of 8. */
export interface PreparedWeight {
  wt: Float32Array; // [K, Np]
  N: number;
  K: number;
  Np: number;
}

export interface AttentionShape {
  T: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  window?: number; // sliding window: position p sees p - window + 1 .. p; absent: all before it
}

export interface WasmCalibKernel {
  /** y [T, N] = x [T, K] · Wᵀ, each output summed in f32 in k order. */
  matmul(x: Float32Array, T: number, w: PreparedWeight): Float32Array;
  /** xᵀx [K, K] of x [T, K], summed in f32 in t order. */
  gram(x: Float32Array, T: number, K: number): Float32Array;
  /** aᵀb [K, K] of a, b [T, K], summed in f32 in t order. */
  cross(a: Float32Array, b: Float32Array, T: number, K: number): Float32Array;
  /**
   * Rows i0..i1 of xᵀx (upper triangle only: j >= i) or of aᵀb (b given), [i1 - i0, Kp] with
   * Kp = K rounded up to 8; i0 and i1 multiples of 4 (or i1 = Kp). What a pool worker computes.
   */
  gramRows(x: Float32Array, b: Float32Array | null, T: number, K: number, i0: number, i1: number): Float32Array;
  /** The attention output of KV heads g0..g1 (their query heads' columns), [T, (g1-g0) * H/KV * hd]. */
  attentionGroups(q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape, g0: number, g1: number): Float32Array;
  /** gate / (1 + e^-gate) · up, element-wise, in f32: a fresh array. */
  swiglu(gate: Float32Array, up: Float32Array): Float32Array;
  /** Causal grouped-query attention of one window: q [T, H*hd], k, v [T, KV*hd] -> [T, H*hd]. */
  attention(q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape): Float32Array;
  readonly gptq: GptqKernel;
}

export const padTo8 = (n: number): number => (n + 7) & ~7;

/** W [N, K] -> its transpose [K, Np], zero-padded. */
export function prepareWeight(w: Float32Array, N: number, K: number): PreparedWeight {
  const Np = padTo8(N);
  const wt = new Float32Array(K * Np);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wt[k * Np + n] = w[n * K + k]!;
  return { wt, N, K, Np };
}

export async function loadCalibWasm(source: WasmSource): Promise<WasmCalibKernel> {
  return new WasmCalib(await instantiateKernel<CalibExports>(source, 'calib.wasm'));
}

/** Byte offsets of consecutive 16-aligned buffers starting at `base`, and the end. */
/** A short input would leave the heap's stale values in the product without a word. */
function expectLength(a: Float32Array, n: number, what: string): void {
  if (a.length < n) throw new ShrinkrayError('bad_argument', `calib.wasm: ${what} needs ${n} values, got ${a.length}`);
}

function layout(base: number, sizes: number[]): { at: number[]; end: number } {
  const at: number[] = [];
  let p = base;
  for (const s of sizes) {
    at.push(p);
    p = align16(p + s);
  }
  return { at, end: p };
}

class WasmCalib implements WasmCalibKernel {
  private readonly base: number;
  readonly gptq: GptqKernel;

  constructor(private readonly wasm: CalibExports) {
    this.base = align16(wasm.heapBase());
    this.gptq = {
      name: 'wasm',
      solver: { cholesky: (a, K) => this.cholesky(a, K), lowerInverse: (a, K) => this.lowerInverse(a, K) },
      padRows: padTo8,
      buffers: (size) => this.gptqBuffers(size),
      block: (b, i1, i2, p) => this.gptqBlock(b, i1, i2, p),
      lazy: (b, i1, i2) => this.gptqLazy(b, i1, i2),
    };
  }

  private f32(at: number, length: number): Float32Array {
    return new Float32Array(this.wasm.memory.buffer, at, length);
  }

  matmul(x: Float32Array, T: number, w: PreparedWeight): Float32Array {
    const { K, N, Np } = w;
    expectLength(x, T * K, `x [${T}, ${K}]`);
    const {
      at: [px, pw, py],
      end,
    } = layout(this.base, [T * K * 4, K * Np * 4, T * Np * 4]);
    ensureMemory(this.wasm.memory, end, 'calib.wasm');
    this.f32(px!, T * K).set(x.subarray(0, T * K));
    this.f32(pw!, K * Np).set(w.wt);
    this.wasm.matmul(px!, K, T, K, pw!, Np, py!, 0);
    const yp = this.f32(py!, T * Np);
    if (Np === N) return yp.slice();
    const y = new Float32Array(T * N);
    for (let t = 0; t < T; t++) y.set(yp.subarray(t * Np, t * Np + N), t * N);
    return y;
  }

  gram(x: Float32Array, T: number, K: number): Float32Array {
    const Kp = padTo8(K);
    const {
      at: [px, pg],
      end,
    } = layout(this.base, [T * Kp * 4, Kp * Kp * 4]);
    ensureMemory(this.wasm.memory, end, 'calib.wasm');
    this.padRows(x, T, K, Kp, px!);
    this.wasm.gram(px!, T, Kp, pg!, 0, Kp);
    this.wasm.mirror(pg!, Kp);
    return this.unpad(pg!, K, Kp);
  }

  gramRows(x: Float32Array, b: Float32Array | null, T: number, K: number, i0: number, i1: number): Float32Array {
    const Kp = padTo8(K);
    const {
      at: [px, pb, pg],
      end,
    } = layout(this.base, [T * Kp * 4, b ? T * Kp * 4 : 0, Kp * Kp * 4]);
    ensureMemory(this.wasm.memory, end, 'calib.wasm');
    this.padRows(x, T, K, Kp, px!);
    if (b) {
      this.padRows(b, T, K, Kp, pb!);
      this.wasm.cross(px!, pb!, T, Kp, pg!, i0, i1);
    } else {
      this.wasm.gram(px!, T, Kp, pg!, i0, i1);
    }
    return this.f32(pg! + i0 * Kp * 4, (i1 - i0) * Kp).slice();
  }

  cross(a: Float32Array, b: Float32Array, T: number, K: number): Float32Array {
    const Kp = padTo8(K);
    const {
      at: [pa, pb, pg],
      end,
    } = layout(this.base, [T * Kp * 4, T * Kp * 4, Kp * Kp * 4]);
    ensureMemory(this.wasm.memory, end, 'calib.wasm');
    this.padRows(a, T, K, Kp, pa!);
    this.padRows(b, T, K, Kp, pb!);
    this.wasm.cross(pa!, pb!, T, Kp, pg!, 0, Kp);
    return this.unpad(pg!, K, Kp);
  }

  /** x [T, K] into wasm memory as [T, Kp], zero-padded. */
  private padRows(x: Float32Array, T: number, K: number, Kp: number, at: number): void {
    expectLength(x, T * K, `x [${T}, ${K}]`);
    const xp = this.f32(at, T * Kp);
    if (Kp === K) return xp.set(x.subarray(0, T * K));
    xp.fill(0);
    for (let t = 0; t < T; t++) xp.set(x.subarray(t * K, (t + 1) * K), t * Kp);
  }

  /** [Kp, Kp] at `at` -> a fresh [K, K]. */
  private unpad(at: number, K: number, Kp: number): Float32Array {
    const gp = this.f32(at, Kp * Kp);
    if (Kp === K) return gp.slice();
    const g = new Float32Array(K * K);
    for (let i = 0; i < K; i++) g.set(gp.subarray(i * Kp, i * Kp + K), i * K);
    return g;
  }

  swiglu(gate: Float32Array, up: Float32Array): Float32Array {
    const n = gate.length;
    const {
      at: [pg, pu],
      end,
    } = layout(this.base, [n * 4, n * 4]);
    ensureMemory(this.wasm.memory, end, 'calib.wasm');
    this.f32(pg!, n).set(gate);
    this.f32(pu!, n).set(up);
    this.wasm.swiglu(pg!, pu!, n);
    return this.f32(pg!, n).slice();
  }

  attention(q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape): Float32Array {
    return this.attentionGroups(q, k, v, s, 0, s.numKvHeads);
  }

  attentionGroups(q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape, g0: number, g1: number): Float32Array {
    const { T, numHeads: H, numKvHeads: KV, headDim: hd } = s;
    const Tp = (T + 3) & ~3;
    const qn = T * H * hd;
    const kvn = T * KV * hd;
    const {
      at: [pq, pk, pv, po, pkt, pp],
      end,
    } = layout(this.base, [qn * 4, kvn * 4, kvn * 4, qn * 4, hd * Tp * 4, Tp * 4]);
    expectLength(q, qn, `q [${T}, ${H}x${hd}]`);
    expectLength(k, kvn, `k [${T}, ${KV}x${hd}]`);
    expectLength(v, kvn, `v [${T}, ${KV}x${hd}]`);
    ensureMemory(this.wasm.memory, end, 'calib.wasm');
    this.f32(pq!, qn).set(q.subarray(0, qn));
    this.f32(pk!, kvn).set(k.subarray(0, kvn));
    this.f32(pv!, kvn).set(v.subarray(0, kvn));
    this.wasm.attention(pq!, pk!, pv!, T, H, KV, hd, po!, pkt!, pp!, g0, g1, s.window ?? 0);
    const all = this.f32(po!, qn);
    if (g0 === 0 && g1 === KV) return all.slice();
    const width = (g1 - g0) * (H / KV) * hd;
    const c0 = g0 * (H / KV) * hd;
    const out = new Float32Array(T * width);
    for (let t = 0; t < T; t++) out.set(all.subarray(t * H * hd + c0, t * H * hd + c0 + width), t * width);
    return out;
  }

  // Float64 factorisation: the matrix is copied in, factored in place, copied back.
  private cholesky(a: Float64Array, K: number): boolean {
    const {
      at: [pa],
      end,
    } = layout(this.base, [K * K * 8]);
    ensureMemory(this.wasm.memory, end, 'calib.wasm');
    const view = new Float64Array(this.wasm.memory.buffer, pa!, K * K);
    view.set(a);
    const ok = this.wasm.cholesky64(pa!, K) === 1;
    a.set(view);
    return ok;
  }

  private lowerInverse(a: Float64Array, K: number): Float64Array {
    const {
      at: [pa, pinv, px],
      end,
    } = layout(this.base, [K * K * 8, K * K * 8, K * 8]);
    ensureMemory(this.wasm.memory, end, 'calib.wasm');
    new Float64Array(this.wasm.memory.buffer, pa!, K * K).set(a);
    this.wasm.lowerInverse64(pa!, K, pinv!, px!);
    return new Float64Array(this.wasm.memory.buffer, pinv!, K * K).slice();
  }

  // GPTQ: every buffer lives in wasm memory for the whole loop; the views are made once,
  // after the memory has its final size, so no grow can detach them mid-loop.
  private gptqAt = new WeakMap<GptqBuffers, number[]>();

  private gptqBuffers({ K, Np, B, G }: { K: number; Np: number; B: number; G: number }): GptqBuffers {
    const sizes = [K * Np * 4, K * K * 4, K * K * 4, B * Np * 4, K * Np, K * Np, G * Np * 4, G * Np * 4, K * 4];
    const { at, end } = layout(this.base, sizes);
    ensureMemory(this.wasm.memory, end, 'calib.wasm');
    new Uint8Array(this.wasm.memory.buffer, this.base, end - this.base).fill(0);
    const buf = this.wasm.memory.buffer;
    const b: GptqBuffers = {
      wt: new Float32Array(buf, at[0]!, K * Np),
      u: new Float32Array(buf, at[1]!, K * K),
      uT: new Float32Array(buf, at[2]!, K * K),
      err: new Float32Array(buf, at[3]!, B * Np),
      keep: new Uint8Array(buf, at[4]!, K * Np),
      codes: new Uint8Array(buf, at[5]!, K * Np),
      scales: new Float32Array(buf, at[6]!, G * Np),
      zeros: new Float32Array(buf, at[7]!, G * Np),
      groupOf: new Int32Array(buf, at[8]!, K),
    };
    this.gptqAt.set(b, at);
    return b;
  }

  private gptqBlock(b: GptqBuffers, i1: number, i2: number, p: GptqBlockParams): void {
    const at = this.gptqAt.get(b)!;
    const K = b.groupOf.length;
    const Np = b.wt.length / K;
    this.wasm.gptqBlock(
      at[0]!,
      Np,
      K,
      at[1]!,
      i1,
      i2,
      at[3]!,
      at[4]!,
      p.nmN,
      p.nmM,
      p.quant ? 1 : 0,
      p.bits,
      p.symmetric ? 1 : 0,
      p.group,
      p.dynamic ? 1 : 0,
      p.search ? 1 : 0,
      at[6]!,
      at[7]!,
      at[8]!,
      at[5]!,
    );
  }

  private gptqLazy(b: GptqBuffers, i1: number, i2: number): void {
    const at = this.gptqAt.get(b)!;
    const K = b.groupOf.length;
    const Np = b.wt.length / K;
    // wt[i2..K) -= uT[i2..K, i1..i2) · err: rows of uT are K floats apart.
    this.wasm.matmul(at[2]! + (i2 * K + i1) * 4, K, K - i2, i2 - i1, at[3]!, Np, at[0]! + i2 * Np * 4, 1);
  }
}

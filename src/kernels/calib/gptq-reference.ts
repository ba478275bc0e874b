import { blockScaleZero, quantizeCode } from '../quantize/nbits-codes.ts';
import { referenceSolver } from './cholesky.ts';
import type { GptqBlockParams, GptqBuffers, GptqKernel } from './gptq-kernel.ts';

/** Range factors tried per group: 1, 0.99, ..., 0.21 (GPTQ's reference grid: 100 steps, at most 80% shrink). */
export const RANGE_STEPS = 80;

/**
 * The scalar reference of the GPTQ / SparseGPT column loop: plain loops over f32 buffers,
 * products and sums in float64 and rounded to f32 when stored. The WASM SIMD kernel does
 * the same steps in f32; tests compare the two within a named budget (a rounding
 * difference can move a code by one step, so they are compared on the layer's output
 * error, not bit for bit).
 */
export const gptqReferenceKernel: GptqKernel = {
  name: 'reference',
  solver: referenceSolver,
  padRows: (N) => N,
  buffers: ({ K, Np, B, G }) => ({
    wt: new Float32Array(K * Np),
    u: new Float32Array(K * K),
    uT: new Float32Array(K * K),
    err: new Float32Array(B * Np),
    keep: new Uint8Array(K * Np),
    codes: new Uint8Array(K * Np),
    scales: new Float32Array(G * Np),
    zeros: new Float32Array(G * Np),
    groupOf: new Int32Array(K),
  }),
  block: referenceBlock,
  lazy(b, i1, i2) {
    const K = Math.round(Math.sqrt(b.u.length));
    const Np = b.wt.length / K;
    for (let j = i2; j < K; j++) {
      for (let n = 0; n < Np; n++) {
        let s = 0;
        for (let i = i1; i < i2; i++) s += b.u[i * K + j]! * b.err[(i - i1) * Np + n]!;
        b.wt[j * Np + n]! -= s;
      }
    }
  },
};

function referenceBlock(b: GptqBuffers, i1: number, i2: number, p: GptqBlockParams): void {
  const K = Math.round(Math.sqrt(b.u.length));
  const Np = b.wt.length / K;
  for (let i = i1; i < i2; i++) {
    if (p.nmM > 0 && (i - i1) % p.nmM === 0) chooseNm(b, K, Np, i, p.nmN, p.nmM);
    const g = b.groupOf[i]!;
    if (p.quant && p.dynamic && i % p.group === 0) groupParams(b, K, Np, i, Math.min(i + p.group, K), g, p);
    const d = b.u[i * K + i]!;
    for (let n = 0; n < Np; n++) {
      const w = b.wt[i * Np + n]!;
      let q = 0;
      const scale = b.scales[g * Np + n]!;
      const zero = b.zeros[g * Np + n]!;
      if (b.keep[i * Np + n]) {
        if (p.quant) {
          const code = quantizeCode(w, scale, zero, p.bits);
          b.codes[i * Np + n] = code;
          q = Math.fround((code - zero) * scale);
        } else {
          q = w;
        }
      } else if (p.quant) {
        b.codes[i * Np + n] = zero;
      }
      b.wt[i * Np + n] = q;
      b.err[(i - i1) * Np + n] = (w - q) / d;
    }
    for (let j = i + 1; j < i2; j++) {
      const c = b.u[i * K + j]!;
      for (let n = 0; n < Np; n++) b.wt[j * Np + n]! -= b.err[(i - i1) * Np + n]! * c;
    }
  }
}

function groupParams(b: GptqBuffers, K: number, Np: number, r0: number, r1: number, g: number, p: GptqBlockParams): void {
  for (let n = 0; n < Np; n++) {
    let lo = 0;
    let hi = 0;
    for (let r = r0; r < r1; r++) {
      const w = b.keep[r * Np + n] ? b.wt[r * Np + n]! : 0;
      if (w < lo) lo = w;
      if (w > hi) hi = w;
    }
    let best = blockScaleZero(lo, hi, p.bits, p.symmetric);
    if (p.search) {
      let bestLoss = Infinity;
      for (let step = 0; step < RANGE_STEPS; step++) {
        const f = Math.fround(1 - Math.fround(step / 100));
        const c = blockScaleZero(Math.fround(lo * f), Math.fround(hi * f), p.bits, p.symmetric);
        let loss = 0;
        for (let r = r0; r < r1; r++) {
          if (!b.keep[r * Np + n]) continue;
          const w = b.wt[r * Np + n]!;
          const e = w - Math.fround((quantizeCode(w, c.scale, c.zero, p.bits) - c.zero) * c.scale);
          const d = b.u[r * K + r]!;
          loss += (e * e) / (d * d);
        }
        if (loss < bestLoss) {
          bestLoss = loss;
          best = c;
        }
      }
    }
    b.scales[g * Np + n] = best.scale;
    b.zeros[g * Np + n] = best.zero;
  }
}

/** Keep the n largest w²/u[c,c]² of columns i..i+m-1 in each row; ties prune the lower column. */
function chooseNm(b: GptqBuffers, K: number, Np: number, i: number, n: number, m: number): void {
  const s = new Float64Array(m);
  for (let r = 0; r < Np; r++) {
    for (let j = 0; j < m; j++) {
      const d = b.u[(i + j) * K + i + j]!;
      const w = b.wt[(i + j) * Np + r]!;
      s[j] = Math.fround(Math.fround(w * w) / Math.fround(d * d));
    }
    for (let j = 0; j < m; j++) {
      let rank = 0;
      for (let l = 0; l < m; l++) if (s[l]! < s[j]! || (s[l] === s[j] && l < j)) rank++;
      b.keep[(i + j) * Np + r] = rank < m - n ? 0 : 1;
    }
  }
}

import { ShrinkrayError } from '../../errors.ts';
import { scoreMask } from '../prune/magnitude.ts';
import { blockCount } from '../quantize/rtn-options.ts';
import { blockScaleZero, quantizeCode, type NBitsCodes } from '../quantize/nbits-codes.ts';
import { DEFAULT_DAMPING, inverseHessianFactor, type InverseFactor } from './cholesky.ts';
import { gptqReferenceKernel, RANGE_STEPS } from './gptq-reference.ts';
import type { GptqBuffers, GptqKernel } from './gptq-kernel.ts';

/**
 * GPTQ (Frantar et al. 2022) and SparseGPT (Frantar & Alistarh 2023): one loop over the
 * input columns of W [N, K] that quantizes and/or prunes a column, then spreads its error
 * over the columns not yet done, weighted by the inverse Hessian of the layer's inputs
 * (H = XᵀX / n). Columns go in blocks of 128 (at least one quantization group): inside a
 * block every column's error updates the rest of the block at once; the columns after it
 * get the whole block's error in one product ("lazy batch" updates).
 *
 * - Quantization groups are MatMulNBits blocks: contiguous along K. Their scale and zero
 *   point come from the current (error-updated) weights when the loop reaches the group's
 *   first column. With activation order (columns by decreasing H[i,i]) the groups are not
 *   reached in order, so their parameters are fixed first from the original weights
 *   ("static groups"), which keeps the result a plain MatMulNBits weight.
 * - Each group's range [lo, hi] (always holding 0) is shrunk by the factor in 1, 0.99, ...,
 *   0.21 whose codes cost least, Σ (w - q)² / [H⁻¹]ᵢᵢ: GPTQ's reference has the same grid
 *   with an unweighted |w - q|^2.4; weighting by the loop's own loss fits it better.
 * - A fixed mask (magnitude or Wanda, `keep`) forces pruned weights to exactly 0; their
 *   error is fed forward like a quantization error.
 * - SparseGPT chooses the mask on the way from w² / [H⁻¹]ᵢᵢ²: for unstructured sparsity the
 *   lowest fraction of each column block (all rows together), for N:M the N kept of every M
 *   columns in each row, decided when the loop reaches the group.
 * The scalar reference (gptq-reference.ts) and the WASM SIMD kernel run the same driver.
 */

export interface GptqQuant {
  bits: number; // code width 2..8
  blockSize: number; // group size along K: the MatMulNBits block
  symmetric: boolean;
}

export type SparsityPattern = { kind: 'unstructured'; sparsity: number } | { kind: 'nm'; n: number; m: number };

export interface GptqOptions {
  quant: GptqQuant | null; // null: prune only (SparseGPT without quantization)
  keep?: Uint8Array | null; // a fixed mask [N, K], 1 = keep
  sparsegpt?: SparsityPattern | null; // choose the mask on the way; not with `keep`
  actOrder?: boolean;
  rangeSearch?: boolean; // shrink group ranges (default true); off: plain RTN ranges
  damp?: number; // relative damping (default 0.01 of mean diag H)
  factor?: InverseFactor; // H's inverse factor when the caller has it already (natural column order only)
  columnBlock?: number; // default 128
  what?: string; // tensor name, for errors
}

export interface GptqResult {
  weight: Float32Array; // [N, K] the values the loop settled on (dequantized codes, zeros where pruned)
  keep: Uint8Array | null; // [N, K] the mask used, when pruning
  codes: NBitsCodes | null; // when quantizing: codes [N, K], scales and zero points [N, kBlocks]
  damp: number; // absolute damping added to H's diagonal
}

/**
 * W [N, K] and H [K, K] (float64, the mean of xxᵀ over calibration tokens) -> the compressed
 * weight. `kernel` is the scalar reference or the WASM SIMD one (calib-wasm.ts).
 */
export function runGptq(
  w: Float32Array,
  h: Float64Array,
  N: number,
  K: number,
  o: GptqOptions,
  kernel: GptqKernel = gptqReferenceKernel,
): GptqResult {
  const what = o.what ?? 'weight';
  if (w.length !== N * K) throw new ShrinkrayError('bad_argument', `GPTQ of ${what}: expected ${N}x${K} weights, got ${w.length}`);
  if (o.keep && o.sparsegpt)
    throw new ShrinkrayError('bad_argument', `GPTQ of ${what}: a fixed mask and SparseGPT's own mask exclude each other`);
  if (o.keep && o.keep.length !== N * K) throw new ShrinkrayError('bad_argument', `GPTQ of ${what}: the mask must hold ${N}x${K} entries`);
  const nm = o.sparsegpt?.kind === 'nm' ? o.sparsegpt : null;
  if (nm && K % nm.m !== 0)
    throw new ShrinkrayError('bad_argument', `SparseGPT ${nm.n}:${nm.m} of ${what}: K = ${K} is not a multiple of ${nm.m}`);
  if (nm && o.actOrder)
    throw new ShrinkrayError(
      'bad_argument',
      `SparseGPT ${nm.n}:${nm.m} of ${what}: N:M groups are contiguous, so activation order cannot apply`,
    );
  const q = o.quant;
  const group = q ? q.blockSize : K;
  const B = Math.max(o.columnBlock ?? 128, group);
  if (nm && B % nm.m !== 0)
    throw new ShrinkrayError('bad_argument', `SparseGPT of ${what}: column block ${B} is not a multiple of M = ${nm.m}`);

  // Processing order: activation order sorts columns by H[i,i], largest first (stable).
  const perm = Int32Array.from({ length: K }, (_, i) => i);
  if (o.actOrder) perm.sort((a, b) => h[b * K + b]! - h[a * K + a]! || a - b);
  const hp = new Float64Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) hp[i * K + j] = h[perm[i]! * K + perm[j]!]!;
  const { u, dead, damp } =
    o.factor && !o.actOrder ? o.factor : inverseHessianFactor(hp, K, o.damp ?? DEFAULT_DAMPING, `H of ${what}`, kernel.solver);

  const Np = kernel.padRows(N);
  const kBlocks = blockCount(K, group);
  const b = kernel.buffers({ K, Np, B, G: kBlocks });
  for (let i = 0; i < K; i++) {
    const src = perm[i]!;
    for (let n = 0; n < N; n++) {
      // An input never seen (H[i,i] = 0) carries no signal: its weights become 0, as in GPTQ.
      b.wt[i * Np + n] = dead[i] ? 0 : w[n * K + src]!;
      b.keep[i * Np + n] = o.keep ? o.keep[n * K + src]! : 1;
    }
    b.groupOf[i] = Math.floor(src / group);
    for (let j = i; j < K; j++) {
      b.u[i * K + j] = u[i * K + j]!;
      b.uT[j * K + i] = u[i * K + j]!;
    }
  }
  const search = o.rangeSearch ?? true;
  if (q && o.actOrder) {
    const at = new Int32Array(K); // processing position of each input column
    perm.forEach((k, i) => (at[k] = i));
    staticGroups(w, o.keep ?? null, N, K, q, b, Np, search ? (k) => 1 / u[at[k]! * K + at[k]!]! ** 2 : null);
  }

  for (let i1 = 0; i1 < K; i1 += B) {
    const i2 = Math.min(i1 + B, K);
    if (o.sparsegpt?.kind === 'unstructured') chooseBlockMask(b, N, Np, K, i1, i2, o.sparsegpt.sparsity, what);
    kernel.block(b, i1, i2, {
      nmN: nm?.n ?? 0,
      nmM: nm?.m ?? 0,
      quant: q !== null,
      bits: q?.bits ?? 8,
      symmetric: q?.symmetric ?? true,
      group,
      dynamic: !o.actOrder,
      search,
    });
    if (i2 < K) kernel.lazy(b, i1, i2);
  }
  return unpermute(b, perm, N, Np, K, q, kBlocks, o.keep != null || o.sparsegpt != null, damp);
}

/** SparseGPT's unstructured choice for one column block: the lowest w²/u[i,i]² of all its rows go. */
function chooseBlockMask(b: GptqBuffers, N: number, Np: number, K: number, i1: number, i2: number, sparsity: number, what: string): void {
  const rows = i2 - i1;
  const scores = new Float32Array(rows * N);
  for (let i = i1; i < i2; i++) {
    const d = b.u[i * K + i]!;
    for (let n = 0; n < N; n++) {
      const v = b.wt[i * Np + n]!;
      scores[(i - i1) * N + n] = (v * v) / (d * d);
    }
  }
  const mask = scoreMask(scores, rows, N, { sparsity, scope: 'tensor' }, `SparseGPT scores of ${what}`);
  for (let i = i1; i < i2; i++) for (let n = 0; n < N; n++) b.keep[i * Np + n] = mask[(i - i1) * N + n]!;
}

/** Group parameters fixed up front from the original weights (activation order); `weight` of column k: 1/[H⁻¹]ₖₖ. */
function staticGroups(
  w: Float32Array,
  keep: Uint8Array | null,
  N: number,
  K: number,
  q: GptqQuant,
  b: GptqBuffers,
  Np: number,
  weight: ((k: number) => number) | null,
): void {
  const kBlocks = blockCount(K, q.blockSize);
  for (let g = 0; g < kBlocks; g++) {
    const k0 = g * q.blockSize;
    const k1 = Math.min(K, k0 + q.blockSize);
    for (let n = 0; n < N; n++) {
      const value = (k: number) => (keep && !keep[n * K + k] ? 0 : w[n * K + k]!);
      let lo = 0;
      let hi = 0;
      for (let k = k0; k < k1; k++) {
        lo = Math.min(lo, value(k));
        hi = Math.max(hi, value(k));
      }
      let best = blockScaleZero(lo, hi, q.bits, q.symmetric);
      let bestLoss = Infinity;
      for (let step = 0; weight && step < RANGE_STEPS; step++) {
        const f = Math.fround(1 - Math.fround(step / 100));
        const c = blockScaleZero(Math.fround(lo * f), Math.fround(hi * f), q.bits, q.symmetric);
        let loss = 0;
        for (let k = k0; k < k1; k++) {
          const e = value(k) - Math.fround((quantizeCode(value(k), c.scale, c.zero, q.bits) - c.zero) * c.scale);
          loss += e * e * weight(k);
        }
        if (loss < bestLoss) {
          bestLoss = loss;
          best = c;
        }
      }
      b.scales[g * Np + n] = best.scale;
      b.zeros[g * Np + n] = best.zero;
    }
  }
}

function unpermute(
  b: GptqBuffers,
  perm: Int32Array,
  N: number,
  Np: number,
  K: number,
  q: GptqQuant | null,
  kBlocks: number,
  pruned: boolean,
  damp: number,
): GptqResult {
  const weight = new Float32Array(N * K);
  const keep = pruned ? new Uint8Array(N * K) : null;
  const codes = q ? new Uint8Array(N * K) : null;
  for (let i = 0; i < K; i++) {
    const k = perm[i]!;
    for (let n = 0; n < N; n++) {
      weight[n * K + k] = b.wt[i * Np + n]!;
      if (keep) keep[n * K + k] = b.keep[i * Np + n]!;
      if (codes) codes[n * K + k] = b.codes[i * Np + n]!;
    }
  }
  if (!q || !codes) return { weight, keep, codes: null, damp };
  const scales = new Float32Array(N * kBlocks);
  const zeros = new Uint8Array(N * kBlocks);
  for (let g = 0; g < kBlocks; g++) {
    for (let n = 0; n < N; n++) {
      scales[n * kBlocks + g] = b.scales[g * Np + n]!;
      zeros[n * kBlocks + g] = b.zeros[g * Np + n]!;
    }
  }
  return { weight, keep, codes: { codes, scales, zeros }, damp };
}

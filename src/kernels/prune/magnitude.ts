import { ShrinkrayError } from '../../errors.ts';
import { fillKeys, maskLowestKeys } from './rank-select.ts';

/**
 * Unstructured pruning: zero the weights with the lowest importance, to a target sparsity.
 *
 * Speed/size truth: a mask of scattered zeros buys NO speed in a dense runtime (MatMul and
 * MatMulNBits multiply the zeros like any other number) and NO size unless the weights are
 * stored sparsely (a dense fp32/int4 tensor full of zeros is as large as before; only a
 * general-purpose compressor such as zip sees the zeros). Its value is as a quality/sparsity
 * study and as the first step of sparse formats. Structured pruning (structured.ts) is the
 * kind that shrinks both size and time.
 *
 * Counting rule: in each scope (a row of K weights, or the whole tensor) exactly
 * round(sparsity * scopeSize) weights are zeroed (Math.round: halves round up). Tie rule:
 * among equal scores the lower index is pruned first (see rank-select.ts).
 */

export type PruneScope = 'row' | 'tensor';

export interface UnstructuredOptions {
  sparsity: number; // fraction of weights to zero, 0..1
  scope: PruneScope; // 'row': each output row [K] separately; 'tensor': all N*K together
}

/** Checks a weight/score array against its claimed [N, K] shape before any allocation. */
export function checkMatrix(data: Float32Array, N: number, K: number, what: string): void {
  if (!Number.isSafeInteger(N) || !Number.isSafeInteger(K) || N <= 0 || K <= 0) {
    throw new ShrinkrayError('bad_argument', `${what}: shape [${N}, ${K}] must be two positive integers`);
  }
  if (data.length !== N * K) {
    throw new ShrinkrayError('bad_argument', `${what}: expected ${N}*${K} = ${N * K} values for shape [${N}, ${K}], got ${data.length}`);
  }
}

export function checkSparsity(sparsity: number): void {
  if (!(sparsity >= 0 && sparsity <= 1)) {
    throw new ShrinkrayError('bad_argument', `sparsity must be a fraction in [0, 1], got ${sparsity}`);
  }
}

/** How many of `size` weights a scope prunes at `sparsity`. */
export function prunedCount(size: number, sparsity: number): number {
  return Math.round(sparsity * size);
}

/**
 * Keep-mask from an importance score: the lowest-scoring weights are pruned.
 * Wanda passes |w| * ||x|| here; magnitude pruning passes |w|.
 * @param scores [N, K] row-major, any finite values (NaN is an error)
 * @returns [N, K] mask, 1 = keep, 0 = prune
 */
export function scoreMask(scores: Float32Array, N: number, K: number, opts: UnstructuredOptions, what = 'scores'): Uint8Array {
  checkMatrix(scores, N, K, what);
  checkSparsity(opts.sparsity);
  const mask = new Uint8Array(N * K);
  if (opts.scope === 'tensor') {
    const keys = new Uint32Array(N * K);
    fillKeys(scores, 0, N * K, keys, what);
    maskLowestKeys(keys, N * K, prunedCount(N * K, opts.sparsity), mask, 0);
  } else if (opts.scope === 'row') {
    const keys = new Uint32Array(K); // scratch for one row
    const count = prunedCount(K, opts.sparsity);
    for (let r = 0; r < N; r++) {
      fillKeys(scores, r * K, K, keys, what);
      maskLowestKeys(keys, K, count, mask, r * K);
    }
  } else {
    throw new ShrinkrayError('bad_argument', `scope must be 'row' or 'tensor', got '${String(opts.scope)}'`);
  }
  return mask;
}

/** |w| as a fresh array: the importance score of plain magnitude pruning. */
export function magnitudeScores(weight: Float32Array): Float32Array {
  const scores = new Float32Array(weight.length);
  for (let i = 0; i < weight.length; i++) scores[i] = Math.abs(weight[i]!);
  return scores;
}

/**
 * Magnitude pruning mask for a linear weight.
 * @param weight [N, K] = [out, in], row-major
 * @returns [N, K] mask, 1 = keep
 */
export function magnitudeMask(weight: Float32Array, N: number, K: number, opts: UnstructuredOptions, what = 'weight'): Uint8Array {
  checkMatrix(weight, N, K, what);
  return scoreMask(magnitudeScores(weight), N, K, opts, what);
}

/** Zeroes the pruned weights in place (`mask[i] === 0`) and returns `weight`. */
export function applyMask(weight: Float32Array, mask: Uint8Array): Float32Array {
  if (mask.length !== weight.length) {
    throw new ShrinkrayError('bad_argument', `mask has ${mask.length} entries but the weight has ${weight.length}`);
  }
  for (let i = 0; i < weight.length; i++) if (mask[i] === 0) weight[i] = 0;
  return weight;
}

/** Fraction of zeros in a mask (or of pruned entries), for reports and tests. */
export function maskSparsity(mask: Uint8Array): number {
  let zeros = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] === 0) zeros++;
  return mask.length === 0 ? 0 : zeros / mask.length;
}

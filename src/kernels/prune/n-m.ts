import { ShrinkrayError } from '../../errors.ts';
import { checkMatrix, magnitudeScores } from './magnitude.ts';

/**
 * N:M semi-structured pruning: in every group of M consecutive weights along the input
 * dimension K of each output row, keep the N with the highest importance and zero the rest
 * (2:4 keeps 2 of every 4, i.e. 50% sparsity in a pattern sparse tensor cores can use).
 *
 * Speed/size truth: in a dense runtime (onnxruntime-web's MatMul / MatMulNBits) an N:M
 * pattern is just zeros, so it buys no speed and, stored densely, no size. It pays off only
 * with hardware sparse kernels or a sparse storage format, neither of which exists here.
 *
 * Tail rule: K must be a multiple of M; otherwise this throws (no partial last group), so
 * every group really has the N:M pattern a sparse kernel could rely on.
 * Tie rule (as magnitude.ts): among equal scores in a group, the lower index is pruned first.
 */

export interface NmOptions {
  n: number; // weights kept per group
  m: number; // group size along K
}

/** Largest group size accepted: ranking inside a group is O(M^2), fine for M <= 256. */
const MAX_M = 256;

export function checkNm(K: number, { n, m }: NmOptions, what: string): void {
  if (!Number.isInteger(m) || m < 1 || m > MAX_M) {
    throw new ShrinkrayError('bad_argument', `${what}: N:M group size M must be an integer in 1..${MAX_M}, got ${m}`);
  }
  if (!Number.isInteger(n) || n < 0 || n > m) {
    throw new ShrinkrayError('bad_argument', `${what}: N:M must keep an integer N in 0..M (${m}), got ${n}`);
  }
  if (K % m !== 0) {
    throw new ShrinkrayError(
      'bad_argument',
      `${what}: input size K = ${K} is not a multiple of M = ${m}, so ${n}:${m} groups do not tile the rows`,
    );
  }
}

/**
 * N:M keep-mask from an importance score (Wanda passes |w| * ||x||).
 * @param scores [N, K] = [out, in], row-major; NaN is an error
 * @returns [N, K] mask, 1 = keep; every aligned group of M along K holds exactly n ones
 */
export function nmScoreMask(scores: Float32Array, N: number, K: number, opts: NmOptions, what = 'scores'): Uint8Array {
  checkMatrix(scores, N, K, what);
  checkNm(K, opts, what);
  const { n, m } = opts;
  const prune = m - n;
  const mask = new Uint8Array(N * K);
  for (let g = 0; g < N * K; g += m) {
    // Rank of j within the group: how many come before it in (score, index) order.
    // The `prune` lowest ranks are zeroed; ranks are distinct, so exactly `prune` go.
    for (let j = 0; j < m; j++) {
      const s = scores[g + j]!;
      if (s !== s) throw new ShrinkrayError('bad_argument', `${what}: score at index ${g + j} is NaN; pruning needs finite scores`);
      let rank = 0;
      for (let i = 0; i < m; i++) {
        const t = scores[g + i]!;
        if (t < s || (t === s && i < j)) rank++;
      }
      mask[g + j] = rank < prune ? 0 : 1;
    }
  }
  return mask;
}

/**
 * N:M magnitude mask for a linear weight.
 * @param weight [N, K] = [out, in], row-major
 * @returns [N, K] mask, 1 = keep
 */
export function nmMask(weight: Float32Array, N: number, K: number, opts: NmOptions, what = 'weight'): Uint8Array {
  checkMatrix(weight, N, K, what);
  checkNm(K, opts, what);
  return nmScoreMask(magnitudeScores(weight), N, K, opts, what);
}

/** True when every aligned group of `m` along K keeps at most `n` non-zeros: a check for tests and reports. */
export function satisfiesNm(weight: Float32Array, N: number, K: number, { n, m }: NmOptions): boolean {
  if (weight.length !== N * K || K % m !== 0) return false;
  for (let g = 0; g < N * K; g += m) {
    let nonZero = 0;
    for (let j = 0; j < m; j++) if (weight[g + j] !== 0) nonZero++;
    if (nonZero > n) return false;
  }
  return true;
}

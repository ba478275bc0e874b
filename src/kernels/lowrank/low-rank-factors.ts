import { ShrinkrayError } from '../../errors.ts';
import { referenceSolver } from '../calib/cholesky.ts';
import { truncatedSvd } from './truncated-svd.ts';

/**
 * W [N, K] ≈ B A with A [r, K] and B [N, r], so that x Wᵀ ≈ (x Aᵀ) Bᵀ: two products of
 * r(N + K) weights instead of one of N·K.
 *
 * Plain: the truncated SVD of W, W ≈ U_r Σ_r V_rᵀ, the best rank-r approximation in the
 * Frobenius norm of the weights.
 *
 * Whitened (SVD-LLM, Wang et al. 2024): what matters is the layer's output error on its
 * inputs, ‖(W − W') Xᵀ‖_F² = tr((W − W') H (W − W')ᵀ)·n with H = XᵀX/n. With H + λI = S Sᵀ
 * (Cholesky, S lower), that is ‖(W − W') S‖_F², so the best rank-r W' is the truncated SVD
 * of W S, times S⁻¹: W' = U_r Σ_r (V_rᵀ S⁻¹). The damping λ (a fraction of mean diag H, as
 * GPTQ's) keeps S invertible when an input channel is never active.
 *
 * Either way √Σ goes to both factors (B = U_r √Σ_r, A = √Σ_r V_rᵀ [S⁻¹]) so that their
 * rows have comparable ranges when each is block-quantized afterwards.
 */
export interface LowRankFactors {
  rank: number;
  a: Float32Array; // [rank, K]: the first product, x Aᵀ
  b: Float32Array; // [N, rank]: the second, (x Aᵀ) Bᵀ
}

export interface Whitening {
  hessian: Float64Array; // [K, K] XᵀX / tokens of the layer's calibration inputs
  damping: number; // λ relative to mean(diag H)
}

/** The largest rank whose two factors hold at most `percent`% of the N·K weights (0 when none fits). */
export function rankForPercent(N: number, K: number, percent: number): number {
  return Math.floor((percent * N * K) / (100 * (N + K))); // integers: exact below 2^53
}

export function lowRankFactors(
  w: Float32Array,
  N: number,
  K: number,
  rank: number,
  whitening?: Whitening,
  what = 'weight',
): LowRankFactors {
  if (w.length !== N * K) throw new ShrinkrayError('bad_argument', `${what}: expected ${N}x${K} = ${N * K} values, got ${w.length}`);
  if (!(Number.isInteger(rank) && rank >= 1 && rank < Math.min(N, K) + 1)) {
    throw new ShrinkrayError('bad_recipe', `${what}: rank ${rank} is outside 1..${Math.min(N, K)} for a ${N}x${K} weight`);
  }
  const m = Float64Array.from(w);
  const s = whitening ? choleskyFactor(whitening, K, what) : null;
  const target = s ? multiplyLower(m, N, K, s) : m;
  const svd = truncatedSvd(target, N, K, rank);
  const root = svd.s.map(Math.sqrt);
  const b = new Float32Array(N * rank);
  for (let n = 0; n < N; n++) for (let i = 0; i < rank; i++) b[n * rank + i] = svd.u[n * rank + i]! * root[i]!;
  const a64 = new Float64Array(rank * K);
  for (let i = 0; i < rank; i++) for (let k = 0; k < K; k++) a64[i * K + k] = root[i]! * svd.vt[i * K + k]!;
  if (s) {
    const st = new Float64Array(K * K); // Sᵀ: the solve below then reads contiguous rows
    for (let i = 0; i < K; i++) for (let j = 0; j <= i; j++) st[j * K + i] = s[i * K + j]!;
    for (let i = 0; i < rank; i++) solveRightLower(a64.subarray(i * K, (i + 1) * K), st, K);
  }
  return { rank, a: Float32Array.from(a64), b };
}

/** S lower with S Sᵀ = H + λI, λ growing tenfold (at most 4 times) if rounding leaves it indefinite. */
function choleskyFactor({ hessian: h, damping }: Whitening, K: number, what: string): Float64Array {
  if (h.length !== K * K) throw new ShrinkrayError('bad_argument', `${what}: expected a ${K}x${K} Hessian, got ${h.length} values`);
  let mean = 0;
  for (let i = 0; i < K; i++) mean += h[i * K + i]!;
  mean /= K;
  let damp = damping * (mean > 0 ? mean : 1);
  for (let attempt = 0; attempt < 5; attempt++, damp *= 10) {
    const a = Float64Array.from(h);
    for (let i = 0; i < K; i++) a[i * K + i]! += damp;
    if (!referenceSolver.cholesky(a, K)) continue;
    for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) a[i * K + j] = 0; // keep L only
    return a;
  }
  throw new ShrinkrayError('runtime_error', `${what}: the calibration Gram matrix is not positive definite even with damping ${damp / 10}`);
}

/** M S for M [N, K] and S [K, K] lower triangular. */
function multiplyLower(m: Float64Array, N: number, K: number, s: Float64Array): Float64Array {
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const row = m.subarray(n * K, (n + 1) * K);
    const o = out.subarray(n * K, (n + 1) * K);
    for (let i = 0; i < K; i++) {
      const v = row[i]!;
      if (v === 0) continue;
      const si = i * K;
      for (let j = 0; j <= i; j++) o[j]! += v * s[si + j]!; // S[i, j] is 0 above the diagonal
    }
  }
  return out;
}

/** y ← y S⁻¹ in place (y a row [K], given st = Sᵀ with S lower): y S = x solved from the last column back. */
function solveRightLower(y: Float64Array, st: Float64Array, K: number): void {
  for (let j = K - 1; j >= 0; j--) {
    const col = st.subarray(j * K, (j + 1) * K); // S[:, j]
    let acc = y[j]!;
    for (let i = j + 1; i < K; i++) acc -= y[i]! * col[i]!;
    y[j] = acc / col[j]!;
  }
}

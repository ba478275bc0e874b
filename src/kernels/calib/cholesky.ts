import { ShrinkrayError } from '../../errors.ts';

/**
 * The inverse-Hessian factor GPTQ and SparseGPT walk: the upper triangular U with
 * H⁻¹ = UᵀU, from H = XᵀX/n, in float64.
 *
 * GPTQ's reference computes it as cholesky(cholesky_inverse(cholesky(H)), upper): three
 * K³ passes. The same U comes from one Cholesky and one triangular inverse: with J the
 * reversal permutation, J H J = L Lᵀ (L lower) gives H⁻¹ = (J L⁻ᵀ J)(J L⁻¹ J), and
 * U = J L⁻¹ J is upper triangular. The factor is unique, so both routes agree up to rounding.
 */

export interface InverseFactor {
  u: Float64Array; // [K, K] upper triangular, H⁻¹ = uᵀu (after damping)
  dead: Uint8Array; // [K] 1 where H[i,i] was 0 (an input never active): its column is zeroed
  damp: number; // what was added to the diagonal
}

/** Relative damping, GPTQ's `percdamp`: λ = 0.01 · mean(diag H). */
export const DEFAULT_DAMPING = 0.01;

/** The two K³ steps, in float64: the scalar reference here, or WASM SIMD (wasm/calib-wasm.ts). */
export interface TriangularSolver {
  /** a = L Lᵀ in place: L in the lower triangle. False when a is not positive definite. */
  cholesky(a: Float64Array, K: number): boolean;
  /** L⁻¹ [K, K] (lower) of the L in a's lower triangle. */
  lowerInverse(a: Float64Array, K: number): Float64Array;
}

export const referenceSolver: TriangularSolver = Object.freeze({ cholesky: choleskyInPlace, lowerInverse });

/**
 * H [K, K] (row-major, symmetric; not modified) -> U. Dead inputs get H[i,i] = 1, as in
 * GPTQ. When rounding leaves the damped matrix not positive definite, the damping grows
 * tenfold (at most 4 times) before giving up; the result records what was used.
 */
export function inverseHessianFactor(
  h: Float64Array,
  K: number,
  relDamp = DEFAULT_DAMPING,
  what = 'Hessian',
  solver: TriangularSolver = referenceSolver,
): InverseFactor {
  if (h.length !== K * K) throw new ShrinkrayError('bad_argument', `${what}: expected ${K}x${K} = ${K * K} values, got ${h.length}`);
  const dead = new Uint8Array(K);
  let mean = 0;
  for (let i = 0; i < K; i++) {
    const d = h[i * K + i]!;
    if (!(d >= 0)) throw new ShrinkrayError('bad_argument', `${what}: diagonal entry ${i} is ${d}; expected a Gram matrix (>= 0)`);
    if (d === 0) dead[i] = 1;
    mean += d;
  }
  mean /= K;
  let damp = relDamp * (mean > 0 ? mean : 1);
  for (let attempt = 0; attempt < 5; attempt++, damp *= 10) {
    // J H J + λI, dead diagonals set to 1 (their rows and columns are then ignored).
    const a = new Float64Array(K * K);
    for (let i = 0; i < K; i++) {
      const ri = K - 1 - i;
      for (let j = 0; j < K; j++) {
        const rj = K - 1 - j;
        a[i * K + j] = dead[ri] || dead[rj] ? (i === j ? 1 : 0) : h[ri * K + rj]!;
      }
      a[i * K + i]! += damp;
    }
    if (!solver.cholesky(a, K)) continue;
    const linv = solver.lowerInverse(a, K);
    // U = J L⁻¹ J: U[i, j] = L⁻¹[K-1-i, K-1-j], upper because L⁻¹ is lower.
    const u = new Float64Array(K * K);
    for (let i = 0; i < K; i++) {
      for (let j = i; j < K; j++) u[i * K + j] = linv[(K - 1 - i) * K + (K - 1 - j)]!;
    }
    return { u, dead, damp };
  }
  throw new ShrinkrayError(
    'runtime_error',
    `${what}: not positive definite even with damping ${damp / 10}; the calibration activations may be degenerate`,
  );
}

/** a = L Lᵀ, L written into the lower triangle of a (the upper is left as is). False when not positive definite. */
function choleskyInPlace(a: Float64Array, K: number): boolean {
  for (let j = 0; j < K; j++) {
    const rj = j * K;
    let d = a[rj + j]!;
    for (let k = 0; k < j; k++) d -= a[rj + k]! * a[rj + k]!;
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    a[rj + j] = ljj;
    for (let i = j + 1; i < K; i++) {
      const ri = i * K;
      let s = a[ri + j]!;
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = s / ljj;
    }
  }
  return true;
}

/** The inverse of the lower triangular L held in a's lower triangle: [K, K] lower, row-major. */
function lowerInverse(a: Float64Array, K: number): Float64Array {
  const inv = new Float64Array(K * K);
  // Column by column: L x = e_j, forward substitution from row j down.
  const x = new Float64Array(K);
  for (let j = 0; j < K; j++) {
    x.fill(0);
    x[j] = 1 / a[j * K + j]!;
    for (let i = j + 1; i < K; i++) {
      const ri = i * K;
      let s = 0;
      for (let k = j; k < i; k++) s += a[ri + k]! * x[k]!;
      x[i] = -s / a[ri + i]!;
    }
    for (let i = j; i < K; i++) inv[i * K + j] = x[i]!;
  }
  return inv;
}

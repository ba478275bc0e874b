import { inverseHessianFactor, type InverseFactor } from '../kernels/calib/cholesky.ts';
import type { CalibBackend } from './calib-backend.ts';

/**
 * GPTQ's float targets (asymmetric calibration, as in GPTAQ: Li et al. 2025). Sequential
 * calibration feeds each layer the compressed model's inputs X, and classic GPTQ makes the
 * layer reproduce its own output on them, W X. What the model needs is the float model's
 * output, W X̃, X̃ being the float model's input at the same place. The least-squares weight
 * for that target on inputs X is
 *   W' = W X̃ᵀX (XᵀX)⁻¹ = W + W · (X̃ - X)ᵀX/n · H⁻¹,   H = XᵀX/n (damped),
 * and ‖X̃Wᵀ - XQᵀ‖² = ‖X(W' - Q)ᵀ‖² + const, so GPTQ run on W' with the same H minimises
 * the distance to the float model's output. Writing W' as W plus a correction keeps W
 * exactly when the inputs agree, whatever the damping.
 */
export interface TargetCorrection {
  factor: InverseFactor; // H's inverse factor, reused by GPTQ's loop
  a: Float32Array; // [K, K] shift · H⁻¹, applied to every weight reading this input
}

/** From H = XᵀX/n and shift = (X̃ - X)ᵀX/n, both [K, K]. */
export async function targetCorrection(
  hessian: Float64Array,
  shift: Float64Array,
  K: number,
  backend: CalibBackend,
  what: string,
): Promise<TargetCorrection> {
  const factor = inverseHessianFactor(hessian, K, undefined, what);
  // H⁻¹ = uᵀu: with ut = uᵀ, linear(ut, ut) = ut · utᵀ = uᵀu.
  const ut = new Float32Array(K * K);
  for (let i = 0; i < K; i++) for (let j = i; j < K; j++) ut[j * K + i] = factor.u[i * K + j]!;
  const hinv = await backend.linear(ut, K, ut, K, K, null); // [K, K], symmetric
  const a = await backend.linear(Float32Array.from(shift), K, hinv, K, K, null); // shift · H⁻¹ᵀ = shift · H⁻¹
  return { factor, a };
}

/** W' = W + W · a.  w: [N, K] */
export async function correctedWeight(w: Float32Array, N: number, K: number, c: TargetCorrection, backend: CalibBackend): Promise<Float32Array> {
  const at = new Float32Array(K * K); // linear multiplies by the transpose of its weight
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) at[j * K + i] = c.a[i * K + j]!;
  const wa = await backend.linear(w, N, at, K, K, null);
  const out = new Float32Array(N * K);
  for (let i = 0; i < N * K; i++) out[i] = w[i]! + wa[i]!;
  return out;
}

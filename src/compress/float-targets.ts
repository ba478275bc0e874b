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
  /** W' = W + W · shift · H⁻¹ for one weight [N, K] reading this input. */
  apply(w: Float32Array, N: number): Promise<Float32Array>;
}

/**
 * From H = XᵀX/n and shift = (X̃ - X)ᵀX/n, both [K, K], for weights totalling `rows` output
 * rows. H⁻¹ = uᵀu is never formed: with many rows, A = (shift·uᵀ)·u [K, K] is made once and
 * each weight gets W·A (2K³ + rows·K² products); with few rows (rows < K: a down_proj), each
 * weight gets ((W·shift)·uᵀ)·u (3·rows·K²). The choice depends only on the shapes.
 */
export async function targetCorrection(
  hessian: Float64Array,
  shift: Float64Array,
  K: number,
  rows: number,
  backend: CalibBackend,
  what: string,
): Promise<TargetCorrection> {
  const factor = inverseHessianFactor(hessian, K, undefined, what, backend.gptq.solver);
  // linear(x, w) multiplies by wᵀ: pass u for ·uᵀ, and uᵀ for ·u.
  const u = Float32Array.from(factor.u);
  const ut = transpose(u, K);
  const add = (w: Float32Array, d: Float32Array) => w.map((v, i) => v + d[i]!);
  if (rows < K) {
    const shiftT = transpose(Float32Array.from(shift), K);
    return {
      factor,
      apply: async (w, N) =>
        add(
          w,
          await backend.linear(await backend.linear(await backend.linear(w, N, shiftT, K, K, null), N, u, K, K, null), N, ut, K, K, null),
        ),
    };
  }
  const a = await backend.linear(await backend.linear(Float32Array.from(shift), K, u, K, K, null), K, ut, K, K, null); // shift·uᵀ·u
  const at = transpose(a, K);
  return { factor, apply: async (w, N) => add(w, await backend.linear(w, N, at, K, K, null)) };
}

function transpose(m: Float32Array, K: number): Float32Array {
  const t = new Float32Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) t[j * K + i] = m[i * K + j]!;
  return t;
}

import { lowRankFactors } from '../kernels/lowrank/low-rank-factors.ts';
import { DEFAULT_DAMPING } from '../kernels/calib/cholesky.ts';
import type { RtnQuantizer } from '../kernels/quantize/index.ts';
import type { DenseWeight, LowRankWeight, NBitsWeight } from '../build/linear-weight.ts';
import type { WeightDtype } from './recipe-steps.ts';
import { roundTripHalf, rtnLinear } from './linear-quant.ts';

/**
 * `lr{P}[-act]`: one linear layer as two factors (kernels/lowrank/low-rank-factors.ts), each
 * stored as any linear weight (dense in the recipe's storage type, or block-quantized by the
 * int step), plus the product of what they store, W' = B̂ Â [N, K], which the calibrated
 * pass multiplies by downstream and the per-tensor error is measured on.
 * The rank per layer is the plan's (low-rank-rules.ts).
 */
export { lowRankPlan, type LowRankPlan } from './low-rank-rules.ts';

/** Block quantization of each factor (plan.ts BlockQuant). */
interface FactorQuant {
  bits: number;
  blockSize: number;
  symmetric: boolean;
}

export interface LowRankJob {
  name: string;
  w: Float32Array; // [N, K]
  N: number;
  K: number;
  rank: number;
  hessian: Float64Array | null; // [K, K] XᵀX/n of the layer's inputs: whiten (-act); null: plain SVD
  quant: FactorQuant | null;
  storage: WeightDtype;
}

export interface LowRankDone {
  weight: LowRankWeight;
  values: Float32Array; // [N, K] B̂ Â, what the two stored products multiply by
  bytes: number;
}

export async function lowRankLinear(job: LowRankJob, quantizer: RtnQuantizer): Promise<LowRankDone> {
  const { name, N, K, rank } = job;
  const whitening = job.hessian ? { hessian: job.hessian, damping: DEFAULT_DAMPING } : undefined;
  const f = lowRankFactors(job.w, N, K, rank, whitening, name);
  const a = await factor(`${name} (factor A)`, f.a, rank, K, job, quantizer);
  const b = await factor(`${name} (factor B)`, f.b, N, rank, job, quantizer);
  const values = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    const row = values.subarray(n * K, (n + 1) * K);
    for (let i = 0; i < rank; i++) {
      const coef = b.values[n * rank + i]!;
      if (coef === 0) continue;
      const ai = a.values.subarray(i * K, (i + 1) * K);
      for (let k = 0; k < K; k++) row[k]! += coef * ai[k]!;
    }
  }
  return { weight: { kind: 'lowrank', outFeatures: N, inFeatures: K, rank, a: a.weight, b: b.weight }, values, bytes: a.bytes + b.bytes };
}

async function factor(
  what: string,
  w: Float32Array,
  N: number,
  K: number,
  job: LowRankJob,
  quantizer: RtnQuantizer,
): Promise<{ weight: DenseWeight | NBitsWeight; values: Float32Array; bytes: number }> {
  if (job.quant) return rtnLinear(w, N, K, job.quant, quantizer, what);
  const values = job.storage === 'fp16' ? roundTripHalf(w) : w;
  return {
    weight: { kind: 'dense', storage: job.storage, weight: w, outFeatures: N, inFeatures: K },
    values,
    bytes: w.length * (job.storage === 'fp16' ? 2 : 4),
  };
}

/** The per-tensor kind in reports: `lowrank-r16+int8-g32`, `lowrank-r16+fp32`. */
export function lowRankKind(rank: number, quant: FactorQuant | null, storage: WeightDtype): string {
  const q = quant ? `int${quant.bits}-g${quant.blockSize}${quant.symmetric ? '' : '-asym'}` : storage;
  return `lowrank-r${rank}+${q}`;
}

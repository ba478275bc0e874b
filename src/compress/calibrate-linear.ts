import { ShrinkrayError } from '../errors.ts';
import type { InverseFactor } from '../kernels/calib/cholesky.ts';
import { runGptq, type SparsityPattern } from '../kernels/calib/gptq.ts';
import { applyMask, maskSparsity, type Pruner } from '../kernels/prune/index.ts';
import type { RtnQuantizer } from '../kernels/quantize/index.ts';
import type { LinearWeight } from '../build/linear-weight.ts';
import type { CalibBackend } from './calib-backend.ts';
import type { InputStats, StatsWanted } from './calibrate-stats.ts';
import { packedLinear, roundTripHalf, rtnLinear } from './linear-quant.ts';
import type { LowRankSpec, MaskStep, QuantSpec, WeightDtype } from './recipe.ts';
import { lowRankLinear, type LowRankPlan } from './low-rank.ts';

/**
 * One linear layer of a calibrated block: its mask (magnitude, N:M, Wanda's |W|·‖X‖, or
 * SparseGPT's own), then its quantization (GPTQ's error feedback, or round-to-nearest of
 * the possibly AWQ-scaled weight), or dense storage. Returns the graph's weight and the
 * values it stands for, which the next stages of the block multiply by.
 */
export interface LinearJob {
  name: string;
  w: Float32Array; // [N, K], after structured pruning (and AWQ's scaling, when the caller applied it)
  N: number;
  K: number;
  mask: MaskStep | null;
  quant: QuantSpec | null;
  storage: WeightDtype;
  stats: InputStats | null; // of this layer's inputs, when the method needs them
  factor?: InverseFactor; // H's inverse factor, when the caller computed it already
  lowRank?: LowRankPlan; // lr: two factors (whitened by the inputs' H when -act), then quant on each
}

export interface LinearDone {
  weight: LinearWeight;
  values: Float32Array; // [N, K] what the stored weight stands for
  bytes: number;
  sparsity: number;
}

export interface LinearKernels {
  backend: CalibBackend;
  quantizer: RtnQuantizer;
  pruner: Pruner;
}

/** What a layer's method needs measured on its inputs; null when nothing. */
export function statsWanted(mask: MaskStep | null, quant: QuantSpec | null, lowRank?: LowRankSpec): StatsWanted | null {
  const want: StatsWanted = {
    // Hessians, AWQ's output error, SVD-LLM's whitening
    gram: quant?.method === 'gptq' || quant?.method === 'awq' || mask?.kind === 'sparsegpt' || lowRank?.activation === true,
    absSum: quant?.method === 'awq', // AWQ's activation scale
    sumSq: mask?.kind === 'wanda', // Wanda's ‖X_k‖ (the Gram diagonal when there is one)
  };
  return want.gram || want.absSum || want.sumSq ? want : null;
}

/** The fixed keep-mask of a data-free or Wanda step (SparseGPT's is chosen inside its loop). */
export async function fixedMask(job: LinearJob, pruner: Pruner): Promise<Uint8Array | null> {
  const { mask, w, N, K, name } = job;
  if (!mask || mask.kind === 'sparsegpt') return null;
  if (mask.kind === 'magnitude') return pruner.magnitudeMask(w, N, K, { sparsity: mask.sparsity, scope: mask.scope }, name);
  if (mask.kind === 'nm') return pruner.nmMask(w, N, K, { n: mask.n, m: mask.m }, name);
  // Wanda: |W_nk| · ‖X_k‖, compared within each output row (or each N:M group).
  const sumSq = need(job).channelSumSq();
  const scores = new Float32Array(N * K);
  for (let k = 0; k < K; k++) {
    const norm = Math.sqrt(sumSq[k]!);
    for (let n = 0; n < N; n++) scores[n * K + k] = Math.abs(w[n * K + k]!) * norm;
  }
  const p = mask.pattern;
  return p.kind === 'nm'
    ? pruner.nmScoreMask(scores, N, K, { n: p.n, m: p.m }, `Wanda scores of ${name}`)
    : pruner.scoreMask(scores, N, K, { sparsity: p.sparsity, scope: 'row' }, `Wanda scores of ${name}`);
}

function need(job: LinearJob): InputStats {
  if (!job.stats) throw new ShrinkrayError('bad_argument', `${job.name}: the calibrated method has no input statistics`);
  return job.stats;
}

export async function compressCalibratedLinear(job: LinearJob, k: LinearKernels, keep?: Uint8Array | null): Promise<LinearDone> {
  const { w, N, K, quant, name } = job;
  if (job.lowRank) {
    const hessian = job.lowRank.activation ? need(job).hessian() : null;
    const r = await lowRankLinear({ name, w, N, K, rank: job.lowRank.rank, hessian, quant, storage: job.storage }, k.quantizer);
    return { weight: r.weight, values: r.values, bytes: r.bytes, sparsity: 0 };
  }
  const mask = keep === undefined ? await fixedMask(job, k.pruner) : keep;
  const sparsegpt: SparsityPattern | null = job.mask?.kind === 'sparsegpt' ? job.mask.pattern : null;
  if (quant?.method === 'gptq') {
    const r = runGptq(
      w,
      need(job).hessian(),
      N,
      K,
      { quant, keep: mask, sparsegpt, actOrder: quant.actOrder, factor: job.factor, what: name },
      k.backend.gptq,
    );
    const q = packedLinear(r.codes!, N, K, quant);
    return { weight: q.weight, values: q.values, bytes: q.bytes, sparsity: r.keep ? maskSparsity(r.keep) : 0 };
  }
  let values = w;
  let sparsity = 0;
  if (sparsegpt) {
    // SparseGPT alone: prune with error feedback, the kept weights updated in full precision.
    const r = runGptq(w, need(job).hessian(), N, K, { quant: null, sparsegpt, what: name }, k.backend.gptq);
    values = r.weight;
    sparsity = maskSparsity(r.keep!);
  } else if (mask) {
    values = applyMask(Float32Array.from(w), mask);
    sparsity = maskSparsity(mask);
  }
  if (quant) {
    const q = await rtnLinear(values, N, K, quant, k.quantizer, name);
    return { weight: q.weight, values: q.values, bytes: q.bytes, sparsity };
  }
  const stored = job.storage === 'fp16' ? roundTripHalf(values) : values;
  return {
    weight: { kind: 'dense', storage: job.storage, weight: values, outFeatures: N, inFeatures: K },
    values: stored,
    bytes: values.length * (job.storage === 'fp16' ? 2 : 4),
    sparsity,
  };
}

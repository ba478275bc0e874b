import type { ModelConfig } from '../model/config.ts';
import { layerTensors } from '../model/tensor-table.ts';
import { rankForPercent } from '../kernels/lowrank/low-rank-factors.ts';
import type { LowRankSpec, PruneStep, QuantSpec } from './recipe-steps.ts';
import { prunedConfig, type StructuredPlan } from './structured-prune.ts';

/** One linear layer's factorisation, as the plan gives it (plan.ts TensorPlan.lowRank). */
export interface LowRankPlan {
  rank: number; // every layer keeps the same share P% of its weights: the largest r with r(N + K) <= P% of N·K
  activation: boolean; // whitened by the calibration inputs (-act)
}

export function lowRankPlan(spec: LowRankSpec, N: number, K: number): LowRankPlan {
  return { rank: rankForPercent(N, K, spec.percent), activation: spec.activation };
}

/** The parts of a recipe the rules read (recipe.ts Recipe; not imported, to keep the import graph one-way). */
interface RecipeParts {
  lowRank?: LowRankSpec;
  quant: QuantSpec | null;
  mask: PruneStep | null;
  structured: StructuredPlan | null;
}

/**
 * What `lr{P}[-act]` combines with, and the ranks it leaves (checked on layer 0's shapes,
 * after structured pruning: every layer has the same):
 * - ffn / heads: yes, the shrunk matrices are factorised (with calibration text, in the calibrated pass);
 * - int: yes, each factor is block-quantized as any linear weight; the second factor's input
 *   is the rank, so the rank must be at least the block size (MatMulNBits blocks run along it);
 * - gptq / awq: no, their statistics are of the layer's input, while the second factor reads x Aᵀ;
 * - mag / N:M / wanda / sparsegpt: no, zeros inside dense factors save nothing and a mask
 *   on W is lost in the factorisation.
 */
export function lowRankProblems(recipe: RecipeParts, config: ModelConfig): string[] {
  const lr = recipe.lowRank;
  if (!lr) return [];
  const step = `lr${lr.percent}${lr.activation ? '-act' : ''}`;
  const problems: string[] = [];
  if (recipe.quant && recipe.quant.method !== 'rtn') {
    problems.push(
      `${step} does not combine with ${recipe.quant.method}: its statistics are of each layer's input, but the second factor reads the first one's output; use int{B} to quantize the factors`,
    );
  }
  if (recipe.mask) {
    problems.push(
      `${step} does not combine with a sparsity step (${recipe.mask.kind}): zeros in dense factors save nothing, and a mask on W does not survive the factorisation`,
    );
  }
  const shaped = recipe.structured ? prunedConfig(config, recipe.structured) : config;
  const linears = config.numLayers > 0 ? layerTensors(shaped, 0).filter((t) => t.role === 'linear') : [];
  for (const t of linears) {
    const [N, K] = t.shape as [number, number];
    const rank = rankForPercent(N, K, lr.percent);
    if (rank < 1) {
      problems.push(
        `${step} leaves rank 0 for ${t.name} [${N}, ${K}]: even rank 1 needs ${N + K} weights, ${((100 * (N + K)) / (N * K)).toFixed(1)}% of ${N * K}; use at least lr${Math.ceil((100 * (N + K)) / (N * K))}`,
      );
      break;
    }
    if (recipe.quant && rank < recipe.quant.blockSize) {
      problems.push(
        `${step} gives ${t.name} [${N}, ${K}] rank ${rank}, smaller than the block size ${recipe.quant.blockSize} of the int step (the second factor's input is the rank); use ${recipe.quant.blockSize > 16 ? 'a smaller block (-g16) or ' : ''}a larger P`,
      );
      break;
    }
  }
  return problems;
}

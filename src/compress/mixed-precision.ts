import { ShrinkrayError } from '../errors.ts';
import { chooseWidths, type KnapsackChoice } from '../kernels/width-knapsack.ts';
import type { ModelIR } from '../model/ir.ts';
import { elementCount } from '../model/tensor-table.ts';
import type { CompressionPlan } from './plan.ts';
import { measureSensitivity, type MatrixSensitivity, type SensitivityOptions } from './width-sensitivity.ts';
import { mixedBudget, optionBytes, type WidthOption } from './width-menu.ts';

/**
 * `bits{X}`: measure every linear matrix's error at every width (width-sensitivity.ts),
 * choose one width per matrix with the least total error whose bytes fit X bits per weight
 * (the multiple-choice knapsack, kernels/width-knapsack.ts), and write the choice into the
 * plan: each linear row gets its own block quantization, or fp16 dense storage. The
 * pipeline then rounds each matrix to nearest at its width, as for a plain `int` step.
 */
export interface MixedPrecisionSummary {
  bitsPerWeight: number; // asked for
  budget: number; // bytes the linear matrices may take
  bytes: number; // bytes the chosen widths take (≤ budget)
  weights: number; // linear weights in all
  error: number; // Σ of the chosen widths' errors (estimated KL per token, width-sensitivity.ts)
  widths: { name: string; width: string; bytes: number; error: number }[]; // per matrix, in block order
}

/** The widths chosen for `plan` (a `bits{X}` recipe) on the calibration windows. */
export async function chooseMixedWidths(
  ir: ModelIR,
  plan: CompressionPlan,
  windows: Int32Array[],
  o: SensitivityOptions,
): Promise<{ plan: CompressionPlan; summary: MixedPrecisionSummary; sensitivities: MatrixSensitivity[] }> {
  const spec = plan.recipe.mixed;
  if (!spec) throw new ShrinkrayError('bad_argument', `recipe '${plan.recipe.name}' has no bits{X} step to choose widths for`);
  const sensitivities = await measureSensitivity(ir, windows, o);
  const { budget, weights } = mixedBudget(spec, plan.configOut);
  const { widths, choice } = knapsackWidths(sensitivities, budget);
  return {
    plan: planWithWidths(plan, widths),
    summary: {
      bitsPerWeight: spec.bitsPerWeight,
      budget,
      bytes: choice.cost,
      weights,
      error: choice.error,
      widths: describe(sensitivities, choice.choice),
    },
    sensitivities,
  };
}

/** The least-error width of each matrix within `budget` bytes, by the matrices' `errors`. */
export function knapsackWidths(
  sensitivities: readonly MatrixSensitivity[],
  budget: number,
): { widths: Map<string, WidthOption>; choice: KnapsackChoice } {
  const choice = chooseWidths(
    sensitivities.map((s) => ({ costs: s.bytes, errors: s.errors })),
    budget,
  );
  return { widths: new Map(sensitivities.map((s, i) => [s.name, s.options[choice.choice[i]!]!])), choice };
}

function describe(sensitivities: readonly MatrixSensitivity[], choice: Int32Array): MixedPrecisionSummary['widths'] {
  return sensitivities.map((s, i) => {
    const j = choice[i]!;
    return { name: s.name, width: s.options[j]!.label, bytes: s.bytes[j]!, error: s.errors[j]! };
  });
}

/** `plan` with each named linear matrix at its width (the knapsack's choice, or a baseline's). */
export function planWithWidths(plan: CompressionPlan, widths: ReadonlyMap<string, WidthOption>): CompressionPlan {
  const tensors = plan.tensors.map((t) => {
    if (t.role !== 'linear') return t;
    const option = widths.get(t.name);
    if (!option) throw new ShrinkrayError('bad_argument', `no width chosen for linear tensor '${t.name}'`);
    const [N, K] = t.shape as [number, number];
    const bytesOut = optionBytes(N, K, option);
    if (!option.quant) return { ...t, quant: null, dtype: 'fp16' as const, bytesOut };
    if (option.quant.blockSize > K)
      throw new ShrinkrayError('bad_argument', `${t.name}: width ${option.label} has blocks wider than its ${K} inputs`);
    return { ...t, quant: { ...option.quant }, bytesOut };
  });
  const bytesOut = tensors.reduce((s, t) => s + t.bytesOut, 0);
  // The widths are chosen: what is left is round-to-nearest, which needs no calibration.
  return { ...plan, tensors, bytesOut, calibrate: false };
}

/** Average stored bits per linear weight of a plan (what `bits{X}` budgets). */
export function linearBitsPerWeight(plan: CompressionPlan): number {
  const linears = plan.tensors.filter((t) => t.role === 'linear');
  const bytes = linears.reduce((s, t) => s + t.bytesOut, 0);
  return (8 * bytes) / linears.reduce((s, t) => s + elementCount(t.shape), 0);
}

import { ShrinkrayError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import { prunedConfig, type StructuredPlan } from './structured-prune.ts';
import {
  DEFAULT_BLOCK_SIZE,
  KNOWN_STEPS,
  RECIPE_ECHO_CHARS,
  SLOT_MEANING,
  parseStep,
  type MixedSpec,
  type PruneStep,
  type QuantSpec,
  type RecipeStep,
  type StepSlot,
  type WeightDtype,
  type LowRankSpec,
} from './recipe-steps.ts';
import { lowRankProblems } from './low-rank-rules.ts';
import { layerTensors } from '../model/tensor-table.ts';
import { dropProblems, formatDrop, type DropStep } from './drop/drop-blocks.ts';
import { quoted } from '../formats/printable.ts';

export type { LowRankSpec, MixedSpec, PruneStep, QuantSpec, SparsityPattern, WeightDtype } from './recipe-steps.ts';
import { mixedProblems } from './width-menu.ts';

/**
 * A compression recipe: steps joined by `+`, parsed and checked before any work starts.
 * The grammar is documented in recipe-grammar.md; the step table lives in recipe-steps.ts.
 *
 * Steps may be written in any order; they always run in the canonical order
 *   drop → ffn → heads → (mag | N:M) → lr → int → emb → storage dtype
 * (whole blocks removed first, so every later step sees only the kept ones; structured pruning
 * next, so masks and quantization see the shrunk matrices; masks before quantization, so the
 * zeros are quantized as zeros; the factors of lr before int, which quantizes each factor).
 */
export interface Recipe {
  name: string; // as written (trimmed, lower-cased)
  canonical: string; // the same steps in run order and full spelling, e.g. mag50+int4-g32
  structured: StructuredPlan | null; // ffn / heads: whole channels and KV groups removed; null when none
  mask: MaskStep | null; // mag / N:M: zeros in the linear layers, before quantization
  quant: QuantSpec | null; // int: the linear layers of every decoder block
  mixed?: MixedSpec | null; // bits{X}: a width per linear matrix under a byte budget (instead of `quant`)
  embedQuant: EmbedQuantSpec | null; // emb: the embedding and an untied classifier
  storage: WeightDtype; // fp32 / fp16: the tensors that are not quantized (default fp32)
  drop: DropStep | null; // drop{N}[-bi|-last]: whole decoder blocks removed before anything else (drop/drop-blocks.ts)
  lowRank?: LowRankSpec; // lr: the linear layers as two factors (before int); absent when none
}

/** The unstructured or N:M mask step: by magnitude, by Wanda's scores, or SparseGPT's. */
export type MaskStep = Extract<PruneStep, { kind: 'magnitude' | 'nm' | 'wanda' | 'sparsegpt' }>;

/** The N:M pattern of a mask step, if it has one. */
export function maskNm(mask: MaskStep | null): { n: number; m: number } | null {
  if (!mask || mask.kind === 'magnitude') return null;
  if (mask.kind === 'nm') return mask;
  return mask.pattern.kind === 'nm' ? mask.pattern : null;
}

/**
 * Whether the recipe needs calibration text: GPTQ, AWQ, Wanda and SparseGPT measure the
 * model's activations. (The structured steps use activations too when text is given, and
 * weight norms otherwise: planCompression decides.)
 */
export function recipeNeedsCalibration(
  r: Pick<Recipe, 'quant' | 'mask'> & { drop?: DropStep | null; mixed?: MixedSpec | null; lowRank?: LowRankSpec },
): boolean {
  if (r.drop && r.drop.choose !== 'last') return true; // drop{N}, drop{N}-bi score the blocks on calibration text
  return (
    (r.quant !== null && r.quant.method !== 'rtn') ||
    !!r.mixed ||
    r.mask?.kind === 'wanda' ||
    r.mask?.kind === 'sparsegpt' ||
    r.lowRank?.activation === true
  );
}

/** Block quantization of the embedding (and untied classifier); the block follows the int step's. */
export interface EmbedQuantSpec {
  bits: 4 | 8;
  blockSize: number;
  symmetric: true;
}

const SLOT_ORDER: readonly StepSlot[] = ['drop', 'ffn', 'heads', 'sparsity', 'lowrank', 'quant', 'embed', 'dtype'];

function bad(recipe: string, why: string): never {
  throw new ShrinkrayError('bad_recipe', `recipe ${quoted(recipe, RECIPE_ECHO_CHARS)}: ${why}`);
}

/** Parses and checks the grammar of a recipe string; throws ShrinkrayError('bad_recipe'). */
export function parseRecipe(text: string): Recipe {
  const name = text.trim().toLowerCase();
  if (name === '') {
    throw new ShrinkrayError(
      'bad_recipe',
      `recipe is empty; write steps joined by '+', e.g. int4-g32 or mag50+int8. Known steps: ${KNOWN_STEPS}`,
    );
  }
  const tokens = name.split('+').map((t) => t.trim());
  const bySlot = new Map<StepSlot, { token: string; step: RecipeStep }>();
  tokens.forEach((token, i) => {
    if (token === '') bad(name, `step ${i + 1} is empty; join steps with a single '+'`);
    const step = parseStep(token, name);
    const prior = bySlot.get(step.slot);
    if (prior) {
      bad(
        name,
        `steps ${quoted(prior.token, RECIPE_ECHO_CHARS)} and ${quoted(token, RECIPE_ECHO_CHARS)} both set ${SLOT_MEANING[step.slot]}; at most one step of each kind`,
      );
    }
    bySlot.set(step.slot, { token, step });
  });

  const recipe: Recipe = { name, canonical: '', structured: null, mask: null, quant: null, embedQuant: null, storage: 'fp32', drop: null };
  for (const slot of SLOT_ORDER) {
    const step = bySlot.get(slot)?.step;
    if (!step) continue;
    if (step.slot === 'dtype') recipe.storage = step.dtype;
    else if (step.slot === 'quant' && 'mixed' in step) recipe.mixed = step.mixed;
    else if (step.slot === 'quant') recipe.quant = step.quant;
    else if (step.slot === 'embed') recipe.embedQuant = { bits: step.bits, blockSize: DEFAULT_BLOCK_SIZE, symmetric: true };
    else if (step.slot === 'sparsity') recipe.mask = step.prune;
    else if (step.slot === 'drop') recipe.drop = step.drop;
    else if (step.slot === 'lowrank') recipe.lowRank = step.lowRank;
    else {
      recipe.structured ??= { ffnFraction: 0, headsFraction: 0 };
      if (step.slot === 'ffn') recipe.structured.ffnFraction = step.prune.fraction;
      else recipe.structured.headsFraction = step.prune.fraction;
    }
  }
  // The embedding follows the int step's block size, so one block layout serves the whole model.
  if (recipe.embedQuant && recipe.quant) recipe.embedQuant.blockSize = recipe.quant.blockSize;
  recipe.canonical = formatRecipe(recipe);
  return recipe;
}

/** The canonical spelling of a recipe: run order, explicit block size. */
export function formatRecipe(r: Omit<Recipe, 'name' | 'canonical'>): string {
  const parts: string[] = [];
  const pct = (f: number) => Math.round(f * 100);
  if (r.drop) parts.push(formatDrop(r.drop));
  if (r.structured?.ffnFraction) parts.push(`ffn${pct(r.structured.ffnFraction)}`);
  if (r.structured?.headsFraction) parts.push(`heads${pct(r.structured.headsFraction)}`);
  if (r.mask) parts.push(formatMask(r.mask));
  if (r.lowRank) parts.push(`lr${r.lowRank.percent}${r.lowRank.activation ? '-act' : ''}`);
  if (r.quant) parts.push(formatQuant(r.quant));
  if (r.mixed) parts.push(`bits${r.mixed.bitsPerWeight}`);
  if (r.embedQuant) parts.push(`emb${r.embedQuant.bits}`);
  if (r.storage !== 'fp32' || parts.length === 0) parts.push(r.storage);
  return parts.join('+');
}

function formatMask(mask: MaskStep): string {
  const pct = (f: number) => Math.round(f * 100);
  if (mask.kind === 'magnitude') return `mag${pct(mask.sparsity)}`;
  if (mask.kind === 'nm') return `${mask.n}:${mask.m}`;
  const p = mask.pattern;
  return p.kind === 'nm' ? `${mask.kind}-${p.n}:${p.m}` : `${mask.kind}${pct(p.sparsity)}`;
}

/** `int4-g32`, `gptq-int4-g32-asym-act`, `awq-int3-g64-asym`: also the per-tensor kind in reports. */
export function formatQuant(q: QuantSpec): string {
  const method = q.method === 'rtn' ? '' : `${q.method}-`;
  const classic = q.method === 'gptq' && !q.floatTargets ? '-classic' : '';
  return `${method}int${q.bits}-g${q.blockSize}${q.symmetric ? '' : '-asym'}${q.actOrder ? '-act' : ''}${classic}`;
}

/**
 * Everything that stops `recipe` from applying to a model with `config`, as sentences
 * (empty when it fits). Checked against layer 0: every layer has the same shapes.
 */
export function recipeProblems(recipe: Recipe, config: ModelConfig): string[] {
  const problems: string[] = recipe.drop ? dropProblems(recipe.drop, config) : [];
  const { intermediateSize: ffn, numHeads, numKvHeads } = config;
  const { ffnFraction = 0, headsFraction = 0 } = recipe.structured ?? {};
  if (ffnFraction > 0) {
    const pct = Math.round(ffnFraction * 100);
    const removed = Math.round(ffnFraction * ffn);
    if (removed === 0) problems.push(`ffn${pct} removes round(${pct}% of ${ffn}) = 0 FFN channels; use at least ffn${Math.ceil(50 / ffn)}`);
    if (removed >= ffn) problems.push(`ffn${pct} would remove all ${ffn} FFN channels; at least one must remain`);
  }
  if (headsFraction > 0) {
    const pct = Math.round(headsFraction * 100);
    const removed = Math.round(headsFraction * numKvHeads);
    const step = `each of the ${numKvHeads} KV groups (1 KV head + ${numHeads / numKvHeads} query heads) is ${+(100 / numKvHeads).toFixed(1)}%`;
    if (removed === 0) problems.push(`heads${pct} removes round(${pct}% of ${numKvHeads}) = 0 KV groups; ${step}`);
    if (removed >= numKvHeads)
      problems.push(`heads${pct} would remove every KV group (${removed} of ${numKvHeads}); at least one group must remain; ${step}`);
  }
  if (problems.length > 0) return problems; // shapes below depend on a valid structured plan
  problems.push(...mixedProblems(recipe, config));
  if (recipe.lowRank) problems.push(...lowRankProblems(recipe, config));
  if (recipe.quant?.actOrder && recipe.mask?.kind === 'sparsegpt' && recipe.mask.pattern.kind === 'nm') {
    // Activation order walks the columns out of order; SparseGPT chooses N:M groups as it reaches them.
    problems.push(
      `${formatMask(recipe.mask)} chooses N:M groups of consecutive columns, which activation order (-act) visits out of order; drop -act`,
    );
  }

  const shaped = recipe.structured ? prunedConfig(config, recipe.structured) : config;
  const linears = config.numLayers > 0 ? layerTensors(shaped, 0).filter((t) => t.role === 'linear') : [];
  const seen = new Set<string>();
  const once = (key: string, text: string) => {
    if (!seen.has(key)) problems.push(text);
    seen.add(key);
  };
  for (const t of linears) {
    const K = t.shape[1]!;
    if (recipe.quant && recipe.quant.blockSize > K) {
      once(`block${K}`, `block size ${recipe.quant.blockSize} is larger than layer input size ${K} (${t.name})`);
    }
    const nm = maskNm(recipe.mask);
    if (nm && K % nm.m !== 0) {
      once(`nm${K}`, `${nm.n}:${nm.m} needs the layer input size to be a multiple of ${nm.m}, but ${t.name} has ${K}`);
    }
  }
  if (recipe.embedQuant && recipe.embedQuant.blockSize > config.hiddenSize) {
    problems.push(
      `block size ${recipe.embedQuant.blockSize} is larger than the embedding width ${config.hiddenSize} (model.embed_tokens.weight)`,
    );
  } else if (recipe.embedQuant && config.hiddenSize % recipe.embedQuant.blockSize !== 0) {
    // GatherBlockQuantized reads whole blocks only: no padding along the embedding width.
    problems.push(
      `emb${recipe.embedQuant.bits} needs the embedding width ${config.hiddenSize} to be a multiple of the block size ${recipe.embedQuant.blockSize} (model.embed_tokens.weight)`,
    );
  }
  return problems;
}

/** Throws ShrinkrayError('bad_recipe') listing every problem when `recipe` does not fit `config`. */
export function validateRecipeForModel(recipe: Recipe, config: ModelConfig): void {
  const problems = recipeProblems(recipe, config);
  if (problems.length > 0) bad(recipe.name, problems.join('; '));
}

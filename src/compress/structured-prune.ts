import { ShrinkrayError } from '../errors.ts';
import { keptIndices } from '../kernels/prune/rank-select.ts';
import { ffnChannelScores, keptQueryHeads, kvGroupScores, selectColumnBlocks, selectRowBlocks } from '../kernels/prune/structured.ts';
import type { ModelConfig } from '../model/config.ts';
import { tensorNames } from '../model/tensor-table.ts';

/**
 * Structured pruning of a model: how many FFN channels and KV groups each decoder layer
 * loses, the config that results, and the pruning of one layer's tensors with the kernels
 * of src/kernels/prune/structured.ts. Unlike unstructured or N:M masks (no speed in a dense
 * runtime, no size unless stored sparsely), this shrinks both the file and the work per token.
 *
 * - Every layer loses the same count (round(P * size), halves up), so the config stays
 *   uniform: intermediateSize' = intermediateSize - round(P * intermediateSize),
 *   numKvHeads' = numKvHeads - round(P * numKvHeads), numHeads' = numKvHeads' * r.
 *   headDim and hiddenSize are unchanged (so numHeads' * headDim may differ from hiddenSize).
 * - The default scores are data-free weight norms, which pick no better than chance on the
 *   fixture model (README, "Recipes"): callers with calibration data pass activation-aware
 *   scores (the `scores` argument of pruneLayerStructured).
 */

export interface StructuredPlan {
  ffnFraction: number; // fraction of FFN channels removed per layer, 0..1
  headsFraction: number; // fraction of KV groups (KV head + its query heads) removed per layer, 0..1
}

export interface StructuredCounts {
  ffnRemoved: number;
  ffnKept: number;
  groupsRemoved: number;
  groupsKept: number; // = numKvHeads'
  headsPerGroup: number; // numHeads / numKvHeads
}

/** The per-layer counts a plan gives for a config; throws when nothing would remain. */
export function structuredCounts(config: ModelConfig, plan: StructuredPlan): StructuredCounts {
  const { intermediateSize, numHeads, numKvHeads } = config;
  for (const [field, f] of [
    ['ffnFraction', plan.ffnFraction],
    ['headsFraction', plan.headsFraction],
  ] as const) {
    if (!(f >= 0 && f < 1)) throw new ShrinkrayError('bad_argument', `structured plan ${field} must be in [0, 1), got ${f}`);
  }
  const ffnRemoved = Math.round(plan.ffnFraction * intermediateSize);
  const groupsRemoved = Math.round(plan.headsFraction * numKvHeads);
  if (ffnRemoved >= intermediateSize) {
    throw new ShrinkrayError('bad_argument', `removing ${ffnRemoved} of ${intermediateSize} FFN channels leaves none`);
  }
  if (groupsRemoved >= numKvHeads) {
    throw new ShrinkrayError(
      'bad_argument',
      `removing ${groupsRemoved} of ${numKvHeads} KV groups leaves none; at least one group must remain`,
    );
  }
  return {
    ffnRemoved,
    ffnKept: intermediateSize - ffnRemoved,
    groupsRemoved,
    groupsKept: numKvHeads - groupsRemoved,
    headsPerGroup: numHeads / numKvHeads,
  };
}

/** The model config after structured pruning with `plan`. */
export function prunedConfig(config: ModelConfig, plan: StructuredPlan): ModelConfig {
  const c = structuredCounts(config, plan);
  return {
    ...config,
    intermediateSize: c.ffnKept,
    numKvHeads: c.groupsKept,
    numHeads: c.groupsKept * c.headsPerGroup,
    eosTokenId: [...config.eosTokenId],
  };
}

export interface StructuredLayerResult {
  tensors: Map<string, Float32Array>; // this layer's tensors found in the input, the pruned ones replaced
  keptChannels: Int32Array; // ascending FFN channel indices of the input layer
  keptGroups: Int32Array; // ascending KV group indices of the input layer
}

/** Importance scores that replace the weight-norm ones, e.g. from calibration activations. */
export interface StructuredScores {
  ffn?: Float32Array; // [intermediateSize], higher = more important
  groups?: Float32Array; // [numKvHeads]
}

function need(tensors: ReadonlyMap<string, Float32Array>, name: string, length: number): Float32Array {
  const t = tensors.get(name);
  if (!t) throw new ShrinkrayError('bad_argument', `structured pruning needs tensor ${name}`);
  if (t.length !== length) throw new ShrinkrayError('bad_argument', `${name}: expected ${length} values from the config, got ${t.length}`);
  return t;
}

/**
 * Prunes one decoder layer. `tensors` maps (at least) the layer's tensorNames to fp32 data
 * with the shapes of the input `config`; it may hold the whole model. The result holds only
 * this layer's tensors, shaped by prunedConfig(config, plan): norms passed through as they
 * are, so callers can merge it into a model map without touching other layers.
 */
export function pruneLayerStructured(
  config: ModelConfig,
  layer: number,
  tensors: ReadonlyMap<string, Float32Array>,
  plan: StructuredPlan,
  scores: StructuredScores = {},
): StructuredLayerResult {
  const counts = structuredCounts(config, plan);
  const { hiddenSize: dim, intermediateSize: ffn, numHeads, numKvHeads, headDim } = config;
  const names = tensorNames.layer(layer, config);
  const out = new Map<string, Float32Array>();
  for (const name of Object.values(names)) {
    const t = tensors.get(name);
    if (t) out.set(name, t);
  }

  const gate = need(tensors, names.gate, ffn * dim);
  const up = need(tensors, names.up, ffn * dim);
  const down = need(tensors, names.down, dim * ffn);
  const ffnScores = scores.ffn ?? ffnChannelScores(gate, up, down, dim, ffn);
  if (ffnScores.length !== ffn)
    throw new ShrinkrayError('bad_argument', `layer ${layer}: expected ${ffn} FFN channel scores, got ${ffnScores.length}`);
  const keptChannels = keptIndices(ffnScores, counts.ffnKept, `layer ${layer} FFN channel scores`);
  if (counts.ffnRemoved > 0) {
    out.set(names.gate, selectRowBlocks(gate, dim, keptChannels, 1));
    out.set(names.up, selectRowBlocks(up, dim, keptChannels, 1));
    out.set(names.down, selectColumnBlocks(down, dim, ffn, keptChannels, 1));
  }

  const kvRows = numKvHeads * headDim,
    qRows = numHeads * headDim;
  const q = need(tensors, names.q, qRows * dim);
  const k = need(tensors, names.k, kvRows * dim);
  const v = need(tensors, names.v, kvRows * dim);
  const o = need(tensors, names.o, dim * qRows);
  const groupScores = scores.groups ?? kvGroupScores(q, k, v, o, config);
  if (groupScores.length !== numKvHeads)
    throw new ShrinkrayError('bad_argument', `layer ${layer}: expected ${numKvHeads} KV group scores, got ${groupScores.length}`);
  const keptGroups = keptIndices(groupScores, counts.groupsKept, `layer ${layer} KV group scores`);
  if (counts.groupsRemoved > 0) {
    const heads = keptQueryHeads(keptGroups, counts.headsPerGroup);
    out.set(names.q, selectRowBlocks(q, dim, heads, headDim));
    out.set(names.k, selectRowBlocks(k, dim, keptGroups, headDim));
    out.set(names.v, selectRowBlocks(v, dim, keptGroups, headDim));
    out.set(names.o, selectColumnBlocks(o, dim, qRows, heads, headDim));
    if (config.attentionBias) {
      out.set(names.qBias, selectRowBlocks(need(tensors, names.qBias, qRows), 1, heads, headDim));
      out.set(names.kBias, selectRowBlocks(need(tensors, names.kBias, kvRows), 1, keptGroups, headDim));
      out.set(names.vBias, selectRowBlocks(need(tensors, names.vBias, kvRows), 1, keptGroups, headDim));
    }
  }
  return { tensors: out, keptChannels, keptGroups };
}

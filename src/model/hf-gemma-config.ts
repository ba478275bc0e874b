import type { ShrinkrayError } from '../errors.ts';
import { printable } from '../formats/printable.ts';
import type { LinearRopeScaling, ModelConfig } from './config.ts';

/**
 * Gemma 3's config.json fields (Gemma3TextConfig; transformers' modeling_gemma3) <-> ModelConfig,
 * beside hf-config.ts, which parses what Gemma shares with the Llama family. Defaults are
 * Gemma3TextConfig's. What the runners here do not implement is refused by name: logit soft-capping
 * (null in every published Gemma 3) and EmbeddingGemma's bidirectional attention.
 */

type BadConfig = (field: string, problem: string) => ShrinkrayError;
type GemmaFields = Pick<
  ModelConfig,
  'hiddenAct' | 'embeddingScale' | 'sandwichNorms' | 'queryPreAttnScalar' | 'slidingLayers' | 'ropeLocalTheta' | 'qkNorm'
>;

const shown = (v: unknown) => printable(String(JSON.stringify(v)), 80);
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Gemma3TextConfig's defaults for the fields config.json may omit. */
export const GEMMA3_DEFAULTS = Object.freeze({
  maxPositions: 131072,
  bos: 2,
  eos: [1],
  ropeTheta: 1_000_000,
  ropeLocalTheta: 10_000,
  tied: true,
  slidingWindow: 4096,
  slidingWindowPattern: 6,
  queryPreAttnScalar: 256,
});

/**
 * transformers 5 nests each layer type's RoPE in rope_parameters ({full_attention: {...},
 * sliding_attention: {...}}); transformers 4 writes rope_theta, rope_scaling and
 * rope_local_base_freq at the top level. The global layers' source and the local base.
 */
export function gemmaRopeSources(json: Record<string, unknown>): { global: Record<string, unknown> | null; localTheta: unknown } {
  const params = isObject(json.rope_parameters) ? json.rope_parameters : {};
  const full = isObject(params.full_attention) ? params.full_attention : null;
  const sliding = isObject(params.sliding_attention) ? params.sliding_attention : null;
  return { global: full, localTheta: json.rope_local_base_freq ?? sliding?.rope_theta ?? GEMMA3_DEFAULTS.ropeLocalTheta };
}

/** rope_scaling type "linear": positions divided by factor (transformers' _compute_linear_scaling_rope_parameters). */
export function linearScaling(src: Record<string, unknown>, field: string, badConfig: BadConfig): LinearRopeScaling {
  const factor = src.factor;
  if (typeof factor !== 'number') throw badConfig(`${field}.factor`, `must be a number for rope_type "linear", got ${shown(factor)}`);
  return { ropeType: 'linear', factor };
}

/**
 * The sliding_attention layers: layer_types as listed, else every layer but each
 * sliding_window_pattern-th (Gemma3TextConfig: layer i is full_attention when (i + 1) % pattern == 0).
 */
function slidingLayers(json: Record<string, unknown>, numLayers: number, badConfig: BadConfig): number[] {
  const types = json.layer_types ?? null;
  if (types === null) {
    const pattern = json.sliding_window_pattern ?? json._sliding_window_pattern ?? GEMMA3_DEFAULTS.slidingWindowPattern;
    if (typeof pattern !== 'number' || !Number.isSafeInteger(pattern) || pattern <= 0)
      throw badConfig('sliding_window_pattern', `must be a positive integer, got ${shown(pattern)}`);
    return Array.from({ length: numLayers }, (_, l) => l).filter((l) => (l + 1) % pattern !== 0);
  }
  if (!Array.isArray(types) || types.length !== numLayers || !types.every((t) => t === 'sliding_attention' || t === 'full_attention'))
    throw badConfig(
      'layer_types',
      `must list "sliding_attention" or "full_attention" for each of the ${numLayers} layers, got ${shown(types)}`,
    );
  return Array.from({ length: numLayers }, (_, l) => l).filter((l) => types[l] === 'sliding_attention');
}

/** Gemma 3's own fields, checked; what is not implemented is refused naming the field. */
export function parseGemmaFields(
  json: Record<string, unknown>,
  hiddenSize: number,
  numLayers: number,
  localTheta: unknown,
  badConfig: BadConfig,
): GemmaFields {
  const act = json.hidden_activation ?? 'gelu_pytorch_tanh';
  if (act !== 'gelu_pytorch_tanh') throw badConfig('hidden_activation', `must be 'gelu_pytorch_tanh', got ${shown(act)}`);
  for (const field of ['attn_logit_softcapping', 'final_logit_softcapping']) {
    if ((json[field] ?? null) !== null)
      throw badConfig(
        field,
        `${shown(json[field])} is not supported (soft-capping is not implemented; published Gemma 3 checkpoints have null)`,
      );
  }
  if (json.use_bidirectional_attention === true)
    throw badConfig('use_bidirectional_attention', 'true (EmbeddingGemma, an encoder) is not supported: Shrinkray runs causal decoders');
  if (json.attention_bias === true) throw badConfig('attention_bias', 'true is not supported for Gemma3ForCausalLM (o_proj bias)');
  const scalar = json.query_pre_attn_scalar ?? GEMMA3_DEFAULTS.queryPreAttnScalar;
  if (typeof scalar !== 'number' || !Number.isFinite(scalar) || scalar <= 0)
    throw badConfig('query_pre_attn_scalar', `must be a positive number, got ${shown(scalar)}`);
  if (typeof localTheta !== 'number' || !Number.isFinite(localTheta) || localTheta <= 0)
    throw badConfig('rope_local_base_freq', `must be a positive number, got ${shown(localTheta)}`);
  return {
    hiddenAct: 'gelu_tanh',
    // transformers' Gemma3TextScaledWordEmbedding multiplies by hidden_size ** 0.5 cast to the weights' dtype;
    // in an fp32 run (the yardstick here) that is the exact square root.
    embeddingScale: Math.sqrt(hiddenSize),
    sandwichNorms: true,
    qkNorm: true,
    queryPreAttnScalar: scalar,
    slidingLayers: slidingLayers(json, numLayers, badConfig),
    ropeLocalTheta: localTheta,
  };
}

/** config.json's Gemma 3 fields for a ModelConfig (hf-config.ts writes the shared ones). */
export function toGemmaHfFields(c: ModelConfig): Record<string, unknown> {
  return {
    hidden_activation: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: c.queryPreAttnScalar,
    // A window that never bites was dropped at parsing; the context length is the same model.
    sliding_window: c.slidingWindow ?? c.maxPositionEmbeddings,
    layer_types: Array.from({ length: c.numLayers }, (_, l) => (c.slidingLayers?.includes(l) ? 'sliding_attention' : 'full_attention')),
    rope_local_base_freq: c.ropeLocalTheta,
    attn_logit_softcapping: null,
    final_logit_softcapping: null,
    attention_bias: false,
    use_bidirectional_attention: false,
  };
}

import { ShrinkrayError } from '../errors.ts';
import { printable } from '../formats/printable.ts';

/**
 * The typed model configuration every part of the pipeline reads. It is parsed from a
 * Hugging Face config.json (src/model/hf-config.ts) or built from a llama2.c header.
 */
export const SUPPORTED_ARCHITECTURES = Object.freeze({
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  Phi3ForCausalLM: 'phi3',
  SmolLM3ForCausalLM: 'smollm3',
  Gemma3ForCausalLM: 'gemma3_text',
} as const);

export type ArchitectureName = keyof typeof SUPPORTED_ARCHITECTURES;

const QWEN35_MISSING =
  "the layers layer_types names 'linear_attention' (Gated DeltaNet: a causal depthwise convolution over q/k/v, a per-head recurrent state " +
  'updated by the delta rule with a learned decay and step size, an output gated by z; the state replaces the KV cache, so the ONNX graph, ' +
  "the CPU engine and the calibration passes each need a new kind of layer), and the full-attention layers' output gate (q_proj yields the query and a sigmoid gate)";

/** Architectures people pick that are not supported yet, with what each lacks here (the refusal says it). */
export const MISSING_FOR_ARCHITECTURE: Readonly<Record<string, string>> = Object.freeze({
  Gemma3ForConditionalGeneration:
    'the vision tower and its image tokens (the text decoder, under language_model., is what Gemma3ForCausalLM reads: a text-only checkpoint of it loads)',
  // Qwen3.5 and Qwen3-Next: three of every four layers are Gated DeltaNet linear attention, a recurrent state per head in place of a KV cache.
  Qwen3_5ForCausalLM: QWEN35_MISSING,
  Qwen3_5ForConditionalGeneration: `${QWEN35_MISSING}; and the vision tower`,
  Qwen3NextForCausalLM: `${QWEN35_MISSING}; and the mixture-of-experts MLP (routed and shared experts)`,
});
export type ModelFamily = (typeof SUPPORTED_ARCHITECTURES)[ArchitectureName];

/**
 * Llama 3.x's RoPE frequency rescaling (config.json rope_scaling with rope_type "llama3"):
 * wavelengths longer than the original context / lowFreqFactor are stretched by `factor`,
 * those shorter than original context / highFreqFactor are kept, and the band between is
 * blended linearly in (original context / wavelength). The attention scale is unchanged.
 */
export interface Llama3RopeScaling {
  readonly ropeType: 'llama3';
  readonly factor: number; // >= 1
  readonly lowFreqFactor: number; // > 0
  readonly highFreqFactor: number; // > lowFreqFactor
  readonly originalMaxPositionEmbeddings: number; // the context the model was pre-trained with
}

/**
 * Phi-3.5/Phi-4-mini's LongRoPE (config.json rope_scaling type "longrope", "su" in early
 * configs): each rotated pair's inverse frequency is divided by a per-pair factor, the short
 * factors while a forward call's sequence (cached positions + new ones) is at most
 * originalMaxPositionEmbeddings long and the long factors above (transformers'
 * longrope_frequency_update: positions already cached keep the rotation they were stored
 * with), and cos/sin are multiplied by attentionFactor.
 */
export interface LongRopeScaling {
  readonly ropeType: 'longrope';
  readonly shortFactor: readonly number[]; // [rotary dims / 2], each > 0
  readonly longFactor: readonly number[]; // [rotary dims / 2], each > 0
  readonly originalMaxPositionEmbeddings: number; // the switch: sequences longer than this use longFactor
  /** cos and sin are multiplied by it: rope_scaling.attention_factor, else sqrt(1 + ln(s) / ln(original)) with s = max / original (1 when s <= 1). */
  readonly attentionFactor: number;
  /** rope_scaling.attention_factor as config.json gave it (written back as given); absent: derived. */
  readonly attentionFactorGiven?: number;
}

/** Linear position interpolation (rope_scaling type "linear", Gemma 3 4B+ on its global layers): every inverse frequency divided by `factor`. */
export interface LinearRopeScaling {
  readonly ropeType: 'linear';
  readonly factor: number; // >= 1
}

export type RopeScaling = Llama3RopeScaling | LongRopeScaling | LinearRopeScaling;

export interface ModelConfig {
  architecture: ArchitectureName; // as written in config.json "architectures"[0]
  family: ModelFamily;
  hiddenSize: number; // dim
  intermediateSize: number; // FFN hidden size
  numLayers: number;
  numHeads: number;
  numKvHeads: number; // < numHeads means grouped-query attention
  headDim: number; // usually hiddenSize / numHeads
  vocabSize: number;
  maxPositionEmbeddings: number; // context length
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling; // absent: plain RoPE
  /** partial_rotary_factor < 1 (Phi-4-mini): RoPE turns only the first rotaryDim (even) values of each head; absent: all headDim. */
  rotaryDim?: number;
  /** Layers that skip RoPE (SmolLM3's NoPE layers, the 0s of no_rope_layers), ascending; absent: none. */
  nopeLayers?: readonly number[];
  tieWordEmbeddings: boolean; // classifier shares the token embedding
  attentionBias: boolean; // q/k/v projections carry a bias (Qwen2)
  qkNorm?: boolean; // an RMSNorm [headDim] on each query and key head before RoPE (Qwen3)
  /** Sliding-window attention (Mistral v0.1, Phi-3): position p sees keys p - slidingWindow + 1 .. p. Absent: the whole context; set only when below maxPositionEmbeddings. */
  slidingWindow?: number;
  bosTokenId: number | null;
  eosTokenId: number[]; // one or more stop ids
  // Gemma 3 (hf-config.ts parses them from config.json; absent for every other family, which runs as before):
  /** The MLP's gate activation: absent, SiLU (SwiGLU); 'gelu_tanh', GELU's tanh approximation (GeGLU, hidden_activation gelu_pytorch_tanh). */
  hiddenAct?: 'gelu_tanh';
  /** The token embeddings are multiplied by it (Gemma: sqrt(hidden_size)); absent: 1. The tied classifier reads the table unscaled. */
  embeddingScale?: number;
  /** An RMSNorm on the attention output and one on the MLP output, each before its residual add (Gemma's post_attention_layernorm, post_feedforward_layernorm). */
  sandwichNorms?: boolean;
  /** Attention scores are scaled by queryPreAttnScalar^-0.5 (Gemma's query_pre_attn_scalar); absent: headDim^-0.5. */
  queryPreAttnScalar?: number;
  /**
   * Gemma 3's sliding_attention layers, ascending: only they slide `slidingWindow` (when set), and they turn with
   * ropeLocalTheta and plain RoPE; the other (full_attention) layers see the whole context with ropeTheta and
   * ropeScaling. Absent: every layer alike.
   */
  slidingLayers?: readonly number[];
  ropeLocalTheta?: number; // rope_local_base_freq, set with slidingLayers
}

/** The values of each head RoPE turns: partial_rotary_factor x head_dim, else the whole head. */
export function rotaryDims(c: Pick<ModelConfig, 'headDim' | 'rotaryDim'>): number {
  return c.rotaryDim ?? c.headDim;
}

/** Whether decoder layer `l` applies RoPE (SmolLM3's NoPE layers do not). */
export function layerHasRope(c: Pick<ModelConfig, 'nopeLayers'>, l: number): boolean {
  return c.nopeLayers === undefined || !c.nopeLayers.includes(l);
}

/**
 * Upper bounds on a config's sizes, checked before anything is allocated from them. They sit
 * far above every published Llama-family model (Llama-3.1-405B: hidden 16384, FFN 53248, 126
 * layers; Gemma 3: vocabulary 262144; contexts up to 1M) and far below what would exhaust a tab.
 */
export const CONFIG_LIMITS = Object.freeze({
  hiddenSize: 65536,
  intermediateSize: 262144,
  numLayers: 1024,
  numHeads: 1024,
  numKvHeads: 1024,
  headDim: 1024,
  vocabSize: 1 << 21,
  maxPositionEmbeddings: 1 << 20,
} satisfies Partial<Record<keyof ModelConfig, number>>);

/**
 * Bound on context length x head size: the ONNX graph carries RoPE tables of that many
 * floats (three of them), built before any weight is read, and no tensor vouches for the
 * context length. 2^25 admits 256K contexts at head size 128 (Llama 3.1 has 128K) and keeps
 * each table at 128 MB.
 */
export const ROPE_TABLE_LIMIT = 1 << 25;

/** How a config's source names each field, so errors speak the file's language (config.json or a llama2.c header). */
export type ConfigFieldNames = Readonly<
  Record<keyof typeof CONFIG_LIMITS | 'rmsNormEps' | 'ropeTheta' | 'bosTokenId' | 'eosTokenId', string>
>;

export const MODEL_CONFIG_FIELDS: ConfigFieldNames = Object.freeze({
  hiddenSize: 'hiddenSize',
  intermediateSize: 'intermediateSize',
  numLayers: 'numLayers',
  numHeads: 'numHeads',
  numKvHeads: 'numKvHeads',
  headDim: 'headDim',
  vocabSize: 'vocabSize',
  maxPositionEmbeddings: 'maxPositionEmbeddings',
  rmsNormEps: 'rmsNormEps',
  ropeTheta: 'ropeTheta',
  bosTokenId: 'bosTokenId',
  eosTokenId: 'eosTokenId',
});

/**
 * The one check of a config's invariants, made where a config enters (config.json, a
 * llama2.c header, a synthetic shape): every size a positive integer within CONFIG_LIMITS,
 * KV heads dividing heads, an even head size (RoPE rotates pairs), context x head size within
 * ROPE_TABLE_LIMIT, a positive epsilon and RoPE base, BOS and EOS ids inside the vocabulary.
 * Everything downstream trusts a ModelConfig. Throws 'bad_config' naming `where` and the
 * field as its source spells it.
 */
export function checkModelConfig(c: ModelConfig, where: string, fields: ConfigFieldNames = MODEL_CONFIG_FIELDS): ModelConfig {
  const bad = (field: keyof ConfigFieldNames, problem: string) =>
    new ShrinkrayError('bad_config', `${where}: field '${fields[field]}' ${problem}`);
  for (const [field, limit] of Object.entries(CONFIG_LIMITS) as [keyof typeof CONFIG_LIMITS, number][]) {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
      throw bad(field, `must be a positive integer, got ${JSON.stringify(v)}`);
    if (v > limit) throw bad(field, `is ${v}, above the supported ${limit}`);
  }
  if (c.numHeads % c.numKvHeads !== 0) throw bad('numKvHeads', `(${c.numKvHeads}) must divide ${fields.numHeads} (${c.numHeads})`);
  if (c.headDim % 2 !== 0) throw bad('headDim', `(${c.headDim}) must be even for rotary embeddings`);
  if (c.maxPositionEmbeddings * c.headDim > ROPE_TABLE_LIMIT) {
    throw bad(
      'maxPositionEmbeddings',
      `(${c.maxPositionEmbeddings}) times the head size ${c.headDim} is ${c.maxPositionEmbeddings * c.headDim}, ` +
        `above the supported ${ROPE_TABLE_LIMIT} (the RoPE tables the graph carries)`,
    );
  }
  for (const field of ['rmsNormEps', 'ropeTheta'] as const) {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(field, `must be a positive number, got ${JSON.stringify(v)}`);
  }
  const rotary = rotaryDims(c);
  if (!(Number.isSafeInteger(rotary) && rotary > 0 && rotary % 2 === 0 && rotary <= c.headDim))
    throw new ShrinkrayError(
      'bad_config',
      `${where}: field 'partial_rotary_factor' gives ${rotary} rotary values per head; expected an even number from 2 to ${fields.headDim} (${c.headDim})`,
    );
  if (
    c.nopeLayers !== undefined &&
    !c.nopeLayers.every((l, i, a) => Number.isSafeInteger(l) && l >= 0 && l < c.numLayers && (i === 0 || l > a[i - 1]!))
  )
    throw new ShrinkrayError(
      'bad_config',
      `${where}: field 'no_rope_layers' must name layers below ${fields.numLayers} (${c.numLayers}) once each`,
    );
  if (c.ropeScaling?.ropeType === 'longrope') checkLongRope(c.ropeScaling, rotary, where);
  else if (c.ropeScaling?.ropeType === 'linear') checkLinearRope(c.ropeScaling, where);
  else if (c.ropeScaling) checkRopeScaling(c.ropeScaling, where);
  checkGemmaFields(c, where);
  if (
    c.slidingWindow !== undefined &&
    !(Number.isSafeInteger(c.slidingWindow) && c.slidingWindow > 0 && c.slidingWindow < c.maxPositionEmbeddings)
  )
    throw new ShrinkrayError(
      'bad_config',
      `${where}: field 'sliding_window' must be a positive integer below ${fields.maxPositionEmbeddings} (${c.maxPositionEmbeddings}), got ${JSON.stringify(c.slidingWindow)}`,
    );
  const inVocab = (id: unknown) => typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 && id < c.vocabSize;
  if (c.bosTokenId !== null && !inVocab(c.bosTokenId))
    throw bad('bosTokenId', `(${JSON.stringify(c.bosTokenId)}) must be a token id below ${fields.vocabSize} (${c.vocabSize})`);
  const eos = c.eosTokenId.find((id) => !inVocab(id));
  if (eos !== undefined) throw bad('eosTokenId', `(${JSON.stringify(eos)}) must be a token id below ${fields.vocabSize} (${c.vocabSize})`);
  return c;
}

/** LongRoPE: one positive factor per rotated pair in each list (transformers' Phi3Config validation), a positive switch length and scale. */
function checkLongRope(s: LongRopeScaling, rotary: number, where: string): void {
  const bad = (field: string, problem: string, v: unknown) =>
    new ShrinkrayError('bad_config', `${where}: field 'rope_scaling.${field}' ${problem}, got ${printable(String(JSON.stringify(v)), 80)}`);
  for (const [field, list] of [
    ['short_factor', s.shortFactor],
    ['long_factor', s.longFactor],
  ] as const) {
    if (!Array.isArray(list) || list.length !== rotary / 2 || !list.every((f) => typeof f === 'number' && Number.isFinite(f) && f > 0))
      throw bad(
        field,
        `must be a list of ${rotary / 2} positive numbers (one per rotated pair: head_dim x partial_rotary_factor / 2)`,
        list,
      );
  }
  const orig = s.originalMaxPositionEmbeddings;
  if (!Number.isSafeInteger(orig) || orig <= 0) throw bad('original_max_position_embeddings', 'must be a positive integer', orig);
  if (!(Number.isFinite(s.attentionFactor) && s.attentionFactor > 0))
    throw bad('attention_factor', 'must be a positive number', s.attentionFactor);
}

/** Linear rope scaling: a factor >= 1, as transformers' validation requires. */
function checkLinearRope(s: LinearRopeScaling, where: string): void {
  if (!(typeof s.factor === 'number' && Number.isFinite(s.factor) && s.factor >= 1))
    throw new ShrinkrayError('bad_config', `${where}: field 'rope_scaling.factor' must be a number >= 1, got ${JSON.stringify(s.factor)}`);
}

/** Gemma 3's fields: the layer list within the layers, positive scale, scalar and local base. */
function checkGemmaFields(c: ModelConfig, where: string): void {
  const bad = (field: string, problem: string, v: unknown) =>
    new ShrinkrayError('bad_config', `${where}: field '${field}' ${problem}, got ${printable(String(JSON.stringify(v)), 80)}`);
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (c.queryPreAttnScalar !== undefined && !positive(c.queryPreAttnScalar))
    throw bad('query_pre_attn_scalar', 'must be a positive number', c.queryPreAttnScalar);
  if (c.embeddingScale !== undefined && !positive(c.embeddingScale))
    throw bad('hidden_size', 'must give a positive embedding scale', c.embeddingScale);
  if (c.ropeLocalTheta !== undefined && !positive(c.ropeLocalTheta))
    throw bad('rope_local_base_freq', 'must be a positive number', c.ropeLocalTheta);
  const layers = c.slidingLayers;
  if (
    layers !== undefined &&
    !layers.every((l, i, a) => Number.isSafeInteger(l) && l >= 0 && l < c.numLayers && (i === 0 || l > a[i - 1]!))
  )
    throw bad('layer_types', `must name the sliding_attention layers below num_hidden_layers (${c.numLayers}) once each`, layers);
}

/** The bounds transformers' own validation puts on llama3 rope scaling; field names as config.json spells them. */
function checkRopeScaling(s: Llama3RopeScaling, where: string): void {
  const bad = (field: string, problem: string, v: unknown) =>
    new ShrinkrayError('bad_config', `${where}: field 'rope_scaling.${field}' ${problem}, got ${JSON.stringify(v)}`);
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (s.ropeType !== 'llama3') throw bad('rope_type', "must be 'llama3'", s.ropeType);
  if (!finite(s.factor) || s.factor < 1) throw bad('factor', 'must be a number >= 1', s.factor);
  if (!finite(s.lowFreqFactor) || s.lowFreqFactor <= 0) throw bad('low_freq_factor', 'must be a positive number', s.lowFreqFactor);
  if (!finite(s.highFreqFactor) || s.highFreqFactor <= s.lowFreqFactor)
    throw bad('high_freq_factor', `must be a number above low_freq_factor (${s.lowFreqFactor})`, s.highFreqFactor);
  const orig = s.originalMaxPositionEmbeddings;
  if (!Number.isSafeInteger(orig) || orig <= 0) throw bad('original_max_position_embeddings', 'must be a positive integer', orig);
}

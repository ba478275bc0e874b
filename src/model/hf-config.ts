import { ShrinkrayError } from '../errors.ts';
import { printable, quoted } from '../formats/printable.ts';
import {
  checkModelConfig,
  layerHasRope,
  MISSING_FOR_ARCHITECTURE,
  rotaryDims,
  SUPPORTED_ARCHITECTURES,
  type ArchitectureName,
  type ConfigFieldNames,
  type Llama3RopeScaling,
  type LongRopeScaling,
  type ModelConfig,
  type RopeScaling,
  type ModelFamily,
} from './config.ts';

/**
 * Hugging Face config.json <-> ModelConfig. Defaults follow transformers' own config
 * classes (LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config, Phi3Config, SmolLM3Config), so a config that omits a field means
 * here what it means there.
 */
const FAMILY_DEFAULTS: Readonly<
  Record<ModelFamily, { maxPositions: number; bos: number | null; eos: number[]; ropeTheta: number; tied: boolean }>
> = {
  llama: { maxPositions: 2048, bos: 1, eos: [2], ropeTheta: 10000, tied: false },
  mistral: { maxPositions: 4096 * 32, bos: 1, eos: [2], ropeTheta: 10000, tied: false },
  qwen2: { maxPositions: 32768, bos: null, eos: [], ropeTheta: 10000, tied: false },
  qwen3: { maxPositions: 32768, bos: null, eos: [], ropeTheta: 10000, tied: false },
  phi3: { maxPositions: 4096, bos: 1, eos: [32000], ropeTheta: 10000, tied: false },
  smollm3: { maxPositions: 32768, bos: 128000, eos: [128001], ropeTheta: 2000000, tied: true },
};

/** config.json's names for the fields checkModelConfig checks. */
const HF_CONFIG_FIELDS: ConfigFieldNames = Object.freeze({
  hiddenSize: 'hidden_size',
  intermediateSize: 'intermediate_size',
  numLayers: 'num_hidden_layers',
  numHeads: 'num_attention_heads',
  numKvHeads: 'num_key_value_heads',
  headDim: 'head_dim',
  vocabSize: 'vocab_size',
  maxPositionEmbeddings: 'max_position_embeddings',
  rmsNormEps: 'rms_norm_eps',
  ropeTheta: 'rope_theta',
  bosTokenId: 'bos_token_id',
  eosTokenId: 'eos_token_id',
});

/** A config value as an error shows it: JSON, escaped and cut, since the file may hold anything. */
const shown = (v: unknown) => printable(String(JSON.stringify(v)), 80);

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function parseHfConfig(json: unknown, fileName: string): ModelConfig {
  const badConfig = (field: string, problem: string) => new ShrinkrayError('bad_config', `${fileName}: field '${field}' ${problem}`);
  if (!isObject(json)) throw new ShrinkrayError('bad_config', `${fileName}: expected a JSON object`);

  const architectures = json.architectures;
  if (!Array.isArray(architectures) || typeof architectures[0] !== 'string') {
    throw badConfig('architectures', 'must be a list naming the model class, e.g. ["LlamaForCausalLM"]');
  }
  const architecture = architectures[0];
  if (!Object.hasOwn(SUPPORTED_ARCHITECTURES, architecture)) {
    const missing = Object.hasOwn(MISSING_FOR_ARCHITECTURE, architecture)
      ? ` (not implemented: ${MISSING_FOR_ARCHITECTURE[architecture]})`
      : '';
    throw new ShrinkrayError(
      'unsupported_architecture',
      `${fileName}: architecture ${quoted(architecture, 80)} is not supported${missing}; supported: ${Object.keys(SUPPORTED_ARCHITECTURES).join(', ')}`,
    );
  }
  const arch = architecture as ArchitectureName;
  const family = SUPPORTED_ARCHITECTURES[arch];
  const defaults = FAMILY_DEFAULTS[family];

  const positiveInt = (field: string, fallback?: number): number => {
    const v = json[field] ?? fallback;
    if (v === undefined) throw badConfig(field, 'is missing');
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw badConfig(field, `must be a positive integer, got ${shown(v)}`);
    return v;
  };
  const positiveNumber = (field: string, value: unknown): number => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw badConfig(field, `must be a positive number, got ${shown(value)}`);
    return value;
  };
  const flag = (field: string, fallback: boolean): boolean => {
    const v = json[field] ?? fallback;
    if (typeof v !== 'boolean') throw badConfig(field, `must be true or false, got ${shown(v)}`);
    return v;
  };
  const tokenId = (field: string, value: unknown): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      throw badConfig(field, `must be a token id, got ${shown(value)}`);
    return value;
  };

  const hiddenSize = positiveInt('hidden_size');
  const numHeads = positiveInt('num_attention_heads');
  const numKvHeads = positiveInt('num_key_value_heads', numHeads);
  if (json.head_dim == null && hiddenSize % numHeads !== 0)
    throw badConfig('num_attention_heads', `(${numHeads}) must divide hidden_size (${hiddenSize})`);
  const headDim = positiveInt('head_dim', json.head_dim == null ? hiddenSize / numHeads : undefined);

  const act = json.hidden_act ?? 'silu';
  if (act !== 'silu') throw badConfig('hidden_act', `must be 'silu', got ${shown(act)}`);
  // transformers 4 writes rope_theta/rope_scaling; transformers 5 nests both in rope_parameters.
  const ropeParams = isObject(json.rope_parameters) ? json.rope_parameters : {};
  const scaling = json.rope_scaling ?? null;
  if (scaling !== null && !isObject(scaling)) throw badConfig('rope_scaling', `must be an object or null, got ${shown(scaling)}`);
  const ropeField = scaling ? 'rope_scaling' : 'rope_parameters';
  const ropeSource = scaling ?? ropeParams;
  const rawType = ropeSource.rope_type ?? ropeSource.type ?? 'default';
  // Phi3Config reads the early configs' "su" (and "yarn") as longrope.
  const ropeType = family === 'phi3' && (rawType === 'su' || rawType === 'yarn') ? 'longrope' : rawType;
  // transformers' Phi3 knows plain RoPE and longrope only; the Llama family adds llama3.
  const supportedTypes = family === 'phi3' ? ['default', 'longrope'] : ['default', 'llama3'];
  if (!supportedTypes.includes(ropeType as string))
    throw badConfig(
      ropeField,
      `type ${shown(rawType)} is not supported for ${arch} (supported: ${supportedTypes.map((t) => `"${t}"`).join(', ')})`,
    );
  const rotaryDim = parseRotaryDim(json, ropeSource, family, headDim, badConfig);
  const maxPositions = positiveInt('max_position_embeddings', defaults.maxPositions);
  const ropeScaling: RopeScaling | undefined =
    ropeType === 'llama3'
      ? llama3Scaling(ropeSource, ropeField, badConfig)
      : ropeType === 'longrope'
        ? longRopeScaling(json, ropeSource, ropeField, maxPositions, badConfig)
        : undefined;
  const nopeLayers = family === 'smollm3' ? parseNopeLayers(json, positiveInt('num_hidden_layers'), badConfig) : undefined;
  // Llama's, SmolLM3's and Qwen3's attention_bias also puts a bias on o_proj, which the IR does not hold; Qwen2 always biases q/k/v only.
  if ((family === 'llama' || family === 'smollm3') && flag('mlp_bias', false)) throw badConfig('mlp_bias', 'true is not supported');
  if ((family === 'llama' || family === 'qwen3' || family === 'smollm3') && flag('attention_bias', false))
    throw badConfig('attention_bias', `true is not supported for ${arch} (o_proj bias)`);

  const slidingWindow = parseSlidingWindow(json, family, maxPositions, badConfig);

  const eosRaw = json.eos_token_id === undefined ? defaults.eos : json.eos_token_id;
  const eosList = eosRaw === null ? [] : Array.isArray(eosRaw) ? eosRaw : [eosRaw];
  const bosRaw = json.bos_token_id === undefined ? defaults.bos : json.bos_token_id;

  return checkModelConfig(
    {
      architecture: arch,
      family,
      hiddenSize,
      intermediateSize: positiveInt('intermediate_size'),
      numLayers: positiveInt('num_hidden_layers'),
      numHeads,
      numKvHeads,
      headDim,
      vocabSize: positiveInt('vocab_size'),
      maxPositionEmbeddings: maxPositions,
      rmsNormEps: positiveNumber('rms_norm_eps', json.rms_norm_eps ?? 1e-6),
      ropeTheta: positiveNumber('rope_theta', json.rope_theta ?? ropeParams.rope_theta ?? defaults.ropeTheta),
      ...(ropeScaling && { ropeScaling }),
      ...(rotaryDim !== headDim && { rotaryDim }),
      ...(nopeLayers && nopeLayers.length > 0 && { nopeLayers }),
      tieWordEmbeddings: flag('tie_word_embeddings', defaults.tied),
      attentionBias: family === 'qwen2',
      ...(family === 'qwen3' && { qkNorm: true }),
      ...(slidingWindow !== undefined && { slidingWindow }),
      bosTokenId: bosRaw === null ? null : tokenId('bos_token_id', bosRaw),
      eosTokenId: eosList.map((id) => tokenId('eos_token_id', id)),
    },
    fileName,
    HF_CONFIG_FIELDS,
  );
}

/**
 * Sliding-window attention: position p sees only keys p - sliding_window + 1 .. p
 * (transformers' sliding_window_overlay). Every engine here implements it; a window as long
 * as the context never bites and is dropped, so such a config is the same model as none.
 * Mistral slides whenever sliding_window is set (MistralConfig's default is 4096; v0.2+
 * publishes null), Phi-3 likewise (Phi3Config's default is null; Phi-3-mini-4k has 2047).
 * Qwen2/Qwen3 slide with use_sliding_window true only on the layers from max_window_layers
 * on, SmolLM3 only on its NoPE layers: per-layer windows, not implemented here, so those are
 * refused when they would bite.
 */
function parseSlidingWindow(
  json: Record<string, unknown>,
  family: ModelFamily,
  maxPositions: number,
  badConfig: (field: string, problem: string) => ShrinkrayError,
): number | undefined {
  if (family === 'llama') return undefined;
  if ((family === 'qwen2' || family === 'qwen3' || family === 'smollm3') && json.use_sliding_window !== true) return undefined;
  const window = family === 'mistral' && json.sliding_window === undefined ? 4096 : (json.sliding_window ?? null);
  if (window === null) return undefined;
  if (typeof window !== 'number' || !Number.isSafeInteger(window) || window <= 0)
    throw badConfig('sliding_window', `must be a positive integer or null, got ${shown(window)}`);
  if (window >= maxPositions) return undefined;
  if (family === 'smollm3')
    throw badConfig(
      'sliding_window',
      `(${window}) is below max_position_embeddings (${maxPositions}) with use_sliding_window: a window on the NoPE layers only is not supported`,
    );
  if (family === 'qwen2' || family === 'qwen3') {
    throw badConfig(
      'sliding_window',
      `(${window}) is below max_position_embeddings (${maxPositions}) with use_sliding_window: a window on the layers from max_window_layers on ` +
        'is not supported (only one window on every layer)',
    );
  }
  return window;
}

/** Llama 3's rope scaling: all four fields are required, as transformers' validation requires them. Bounds: checkModelConfig. */
function llama3Scaling(
  src: Record<string, unknown>,
  field: string,
  badConfig: (field: string, problem: string) => ShrinkrayError,
): Llama3RopeScaling {
  const num = (key: string): number => {
    const v = src[key];
    if (typeof v !== 'number') throw badConfig(`${field}.${key}`, `must be a number for rope_type "llama3", got ${shown(v)}`);
    return v;
  };
  return {
    ropeType: 'llama3',
    factor: num('factor'),
    lowFreqFactor: num('low_freq_factor'),
    highFreqFactor: num('high_freq_factor'),
    originalMaxPositionEmbeddings: num('original_max_position_embeddings'),
  };
}

/**
 * partial_rotary_factor (Phi3Config reads it at the top level, transformers 5 in
 * rope_parameters): int(head_dim x factor) values of each head rotate, as transformers' RoPE
 * init truncates it. Other families' attention rotates whole heads and ignores the field.
 */
function parseRotaryDim(
  json: Record<string, unknown>,
  rope: Record<string, unknown>,
  family: ModelFamily,
  headDim: number,
  badConfig: (field: string, problem: string) => ShrinkrayError,
): number {
  if (family !== 'phi3') return headDim;
  const factor = json.partial_rotary_factor ?? rope.partial_rotary_factor ?? 1;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0 || factor > 1)
    throw badConfig('partial_rotary_factor', `must be a number in (0, 1], got ${shown(factor)}`);
  return Math.floor(headDim * factor);
}

/**
 * LongRoPE as transformers' _compute_longrope_parameters reads it: the switch length is
 * original_max_position_embeddings (in rope_scaling, else Phi3Config's top-level field,
 * default 4096); the scale s is rope_scaling.factor, else max_position_embeddings / original;
 * the attention factor is rope_scaling.attention_factor, else sqrt(1 + ln s / ln original)
 * (1 when s <= 1). Lengths and signs: checkModelConfig.
 */
function longRopeScaling(
  json: Record<string, unknown>,
  src: Record<string, unknown>,
  field: string,
  maxPositions: number,
  badConfig: (field: string, problem: string) => ShrinkrayError,
): LongRopeScaling {
  const list = (key: string): number[] => {
    const v = src[key];
    if (!Array.isArray(v)) throw badConfig(`${field}.${key}`, `must be a list of numbers for type "longrope", got ${shown(v)}`);
    return v as number[];
  };
  const orig = src.original_max_position_embeddings ?? json.original_max_position_embeddings ?? 4096;
  if (typeof orig !== 'number' || !Number.isSafeInteger(orig) || orig <= 0)
    throw badConfig('original_max_position_embeddings', `must be a positive integer, got ${shown(orig)}`);
  const factor = src.factor ?? maxPositions / orig;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0)
    throw badConfig(`${field}.factor`, `must be a positive number, got ${shown(factor)}`);
  const given = src.attention_factor ?? null;
  if (given !== null && typeof given !== 'number') throw badConfig(`${field}.attention_factor`, `must be a number, got ${shown(given)}`);
  const derived = factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(orig));
  return {
    ropeType: 'longrope',
    shortFactor: [...list('short_factor')],
    longFactor: [...list('long_factor')],
    originalMaxPositionEmbeddings: orig,
    attentionFactor: given ?? derived,
    ...(given !== null && { attentionFactorGiven: given }),
  };
}

/**
 * SmolLM3's NoPE layers: no_rope_layers holds one entry per layer (at least), 1 where the layer
 * applies RoPE and 0 where it does not; without it, every no_rope_layer_interval-th layer
 * (default 4) skips RoPE, as SmolLM3Config fills it. Returns the indices of the 0s.
 */
function parseNopeLayers(
  json: Record<string, unknown>,
  numLayers: number,
  badConfig: (field: string, problem: string) => ShrinkrayError,
): number[] {
  const list = json.no_rope_layers ?? null;
  if (list === null) {
    const interval = json.no_rope_layer_interval ?? 4;
    if (typeof interval !== 'number' || !Number.isSafeInteger(interval) || interval <= 0)
      throw badConfig('no_rope_layer_interval', `must be a positive integer, got ${shown(interval)}`);
    return Array.from({ length: numLayers }, (_, l) => l).filter((l) => (l + 1) % interval === 0);
  }
  if (!Array.isArray(list) || list.length < numLayers || !list.every((v) => v === 0 || v === 1 || typeof v === 'boolean'))
    throw badConfig('no_rope_layers', `must list 1 (RoPE) or 0 (none) for each of the ${numLayers} layers, got ${shown(list)}`);
  return Array.from({ length: numLayers }, (_, l) => l).filter((l) => !list[l]);
}

/** config.json's rope_scaling for a ModelConfig: null for plain RoPE. */
function hfRopeScaling(s: RopeScaling | undefined): Record<string, unknown> | null {
  if (!s) return null;
  if (s.ropeType === 'longrope') {
    // Phi3Config's own spelling (type, the two lists); the switch length is the top-level original_max_position_embeddings.
    return {
      type: 'longrope',
      long_factor: [...s.longFactor],
      short_factor: [...s.shortFactor],
      ...(s.attentionFactorGiven !== undefined && { attention_factor: s.attentionFactorGiven }),
    };
  }
  return {
    rope_type: s.ropeType,
    factor: s.factor,
    low_freq_factor: s.lowFreqFactor,
    high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalMaxPositionEmbeddings,
  };
}

/** The config.json transformers (Python and JS) needs to load the model. */
export function toHfConfig(config: ModelConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    architectures: [config.architecture],
    model_type: config.family,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: hfRopeScaling(config.ropeScaling),
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId.length === 1 ? config.eosTokenId[0] : config.eosTokenId,
    hidden_act: 'silu',
    torch_dtype: 'float32',
    use_cache: true,
  };
  if (config.family === 'llama' || config.family === 'smollm3') Object.assign(out, { attention_bias: false, mlp_bias: false });
  if (config.family === 'smollm3')
    Object.assign(out, {
      no_rope_layers: Array.from({ length: config.numLayers }, (_, l) => (layerHasRope(config, l) ? 1 : 0)),
      use_sliding_window: false,
    });
  if (config.family === 'phi3') {
    const s = config.ropeScaling;
    if (config.rotaryDim !== undefined) Object.assign(out, { partial_rotary_factor: rotaryDims(config) / config.headDim });
    if (s?.ropeType === 'longrope') Object.assign(out, { original_max_position_embeddings: s.originalMaxPositionEmbeddings });
  }
  if (config.family === 'qwen3') Object.assign(out, { attention_bias: false });
  // A window that never bites was dropped at parsing (parseSlidingWindow): none is the same model.
  if (config.family === 'mistral' || config.family === 'phi3') Object.assign(out, { sliding_window: config.slidingWindow ?? null });
  return out;
}

/** generation_config.json for a model whose source has none: its BOS and end tokens, as transformers reads them. */
export function toGenerationConfig(config: ModelConfig): Record<string, unknown> {
  return { bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId.length === 1 ? config.eosTokenId[0] : config.eosTokenId };
}

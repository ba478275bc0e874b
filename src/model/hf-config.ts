import { ShrinkrayError } from '../errors.ts';
import { printable, quoted } from '../formats/printable.ts';
import { GEMMA3_DEFAULTS, gemmaRopeSources, linearScaling, parseGemmaFields, toGemmaHfFields } from './hf-gemma-config.ts';
import { hfRopeScaling, llama3Scaling, longRopeScaling, parseNopeLayers, parseRotaryDim } from './hf-rope-config.ts';
import {
  checkModelConfig,
  layerHasRope,
  MISSING_FOR_ARCHITECTURE,
  rotaryDims,
  SUPPORTED_ARCHITECTURES,
  type ArchitectureName,
  type ConfigFieldNames,
  type ModelConfig,
  type RopeScaling,
  type ModelFamily,
} from './config.ts';

/**
 * Hugging Face config.json <-> ModelConfig. Defaults follow transformers' own config
 * classes (LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config, Phi3Config, SmolLM3Config, Gemma3TextConfig: hf-gemma-config.ts), so a config that omits a field means
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
  gemma3_text: { ...GEMMA3_DEFAULTS },
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

  const gemma = family === 'gemma3_text';
  const act = gemma ? 'silu' : (json.hidden_act ?? 'silu'); // Gemma's is hidden_activation (hf-gemma-config.ts)
  if (act !== 'silu') throw badConfig('hidden_act', `must be 'silu', got ${shown(act)}`);
  // transformers 4 writes rope_theta/rope_scaling; transformers 5 nests both in rope_parameters (per layer type for Gemma 3).
  const gemmaRope = gemma ? gemmaRopeSources(json) : null;
  const ropeParams = gemmaRope?.global ?? (isObject(json.rope_parameters) ? json.rope_parameters : {});
  const scaling = json.rope_scaling ?? null;
  if (scaling !== null && !isObject(scaling)) throw badConfig('rope_scaling', `must be an object or null, got ${shown(scaling)}`);
  const ropeField = scaling ? 'rope_scaling' : 'rope_parameters';
  const ropeSource = scaling ?? ropeParams;
  const rawType = ropeSource.rope_type ?? ropeSource.type ?? 'default';
  // Phi3Config reads the early configs' "su" (and "yarn") as longrope.
  const ropeType = family === 'phi3' && (rawType === 'su' || rawType === 'yarn') ? 'longrope' : rawType;
  // transformers' Phi3 knows plain RoPE and longrope only; the Llama family adds llama3; Gemma 3 (4B+) scales its global layers linearly.
  const supportedTypes = family === 'phi3' ? ['default', 'longrope'] : gemma ? ['default', 'linear'] : ['default', 'llama3'];
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
        : ropeType === 'linear'
          ? linearScaling(ropeSource, ropeField, badConfig)
          : undefined;
  const nopeLayers = family === 'smollm3' ? parseNopeLayers(json, positiveInt('num_hidden_layers'), badConfig) : undefined;
  // Llama's, SmolLM3's and Qwen3's attention_bias also puts a bias on o_proj, which the IR does not hold; Qwen2 always biases q/k/v only.
  if ((family === 'llama' || family === 'smollm3') && flag('mlp_bias', false)) throw badConfig('mlp_bias', 'true is not supported');
  if ((family === 'llama' || family === 'qwen3' || family === 'smollm3') && flag('attention_bias', false))
    throw badConfig('attention_bias', `true is not supported for ${arch} (o_proj bias)`);

  const slidingWindow = parseSlidingWindow(json, family, maxPositions, badConfig);
  const gemmaFields = gemmaRope
    ? parseGemmaFields(json, hiddenSize, positiveInt('num_hidden_layers'), gemmaRope.localTheta, badConfig)
    : {};

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
      ...gemmaFields,
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
  // Gemma 3 slides on its sliding_attention layers (ModelConfig.slidingLayers); Gemma3TextConfig's default window is 4096.
  if (family === 'gemma3_text' && json.sliding_window === undefined) return maxPositions > 4096 ? 4096 : undefined;
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
  if (config.family === 'gemma3_text') {
    delete out.hidden_act;
    Object.assign(out, toGemmaHfFields(config));
  }
  return out;
}

/** generation_config.json for a model whose source has none: its BOS and end tokens, as transformers reads them. */
export function toGenerationConfig(config: ModelConfig): Record<string, unknown> {
  return { bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId.length === 1 ? config.eosTokenId[0] : config.eosTokenId };
}

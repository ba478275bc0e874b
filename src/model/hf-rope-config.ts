import { ShrinkrayError } from '../errors.ts';
import { printable } from '../formats/printable.ts';
import type { Llama3RopeScaling, LongRopeScaling, ModelFamily, RopeScaling } from './config.ts';

/**
 * config.json's RoPE fields <-> ModelConfig (hf-config.ts parses the rest): Llama 3's and
 * LongRoPE's rope_scaling, Phi3's partial_rotary_factor, SmolLM3's no_rope_layers. Defaults and
 * readings follow transformers (modeling_rope_utils.py, Phi3Config, SmolLM3Config).
 */

type BadConfig = (field: string, problem: string) => ShrinkrayError;

/** A config value as an error shows it: JSON, escaped and cut, since the file may hold anything. */
const shown = (v: unknown) => printable(String(JSON.stringify(v)), 80);

/**
 * partial_rotary_factor (Phi3Config reads it at the top level, transformers 5 in
 * rope_parameters): int(head_dim x factor) values of each head rotate, as transformers' RoPE
 * init truncates it. Other families' attention rotates whole heads and ignores the field.
 */
export function parseRotaryDim(
  json: Record<string, unknown>,
  rope: Record<string, unknown>,
  family: ModelFamily,
  headDim: number,
  badConfig: BadConfig,
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
export function longRopeScaling(
  json: Record<string, unknown>,
  src: Record<string, unknown>,
  field: string,
  maxPositions: number,
  badConfig: BadConfig,
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
export function parseNopeLayers(json: Record<string, unknown>, numLayers: number, badConfig: BadConfig): number[] {
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

/** Llama 3's rope scaling: all four fields are required, as transformers' validation requires them. Bounds: checkModelConfig. */
export function llama3Scaling(src: Record<string, unknown>, field: string, badConfig: BadConfig): Llama3RopeScaling {
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

/** config.json's rope_scaling for a ModelConfig: null for plain RoPE. */
export function hfRopeScaling(s: RopeScaling | undefined): Record<string, unknown> | null {
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
  if (s.ropeType === 'linear') return { rope_type: 'linear', factor: s.factor };
  return {
    rope_type: s.ropeType,
    factor: s.factor,
    low_freq_factor: s.lowFreqFactor,
    high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalMaxPositionEmbeddings,
  };
}

import { ShrinkrayError } from '../errors.ts';
import type { GgufFile } from '../formats/gguf.ts';
import type { ModelConfig } from './config.ts';

/**
 * A gemma3 GGUF file's Gemma fields, as llama.cpp runs the file. convert_hf_to_gguf.py's
 * Gemma3Model writes context_length, embedding_length, block_count, feed_forward_length,
 * attention.head_count(_kv), attention.key_length/value_length (head_dim),
 * attention.layer_norm_rms_epsilon, rope.freq_base (the global layers' base),
 * attention.sliding_window and, for rope_scaling (4B and up), rope.scaling.type 'linear' with
 * rope.scaling.factor. The rest is fixed in llama.cpp's loader (src/llama-model.cpp,
 * load_hparams, case LLM_ARCH_GEMMA3), not stored, and is written into config.json as it assumes:
 * - hparams.set_swa_pattern(6): layer l slides unless (l + 1) % 6 == 0, Gemma3TextConfig's
 *   sliding_window_pattern 6; no sliding window at all when attention.sliding_window is absent or 0;
 * - rope_freq_base_train_swa = 10000, rope_freq_scale_train_swa = 1: rope_local_base_freq 10000,
 *   and the linear scaling on the global layers only;
 * - f_attention_scale = 1/sqrt(n_embd / n_head) for the 27B shape (62 layers), else
 *   1/sqrt(head_dim): query_pre_attn_scalar, which config.json states and llama.cpp does not read;
 * - the embeddings scaled by sqrt(n_embd), GELU-tanh GeGLU, q/k norms and the sandwich norms (its graph).
 * Keys that newer llama.cpp may write for these are read when present (attention.sliding_window_pattern
 * as a period or a per-layer list, rope.freq_base_swa). Soft-capping is refused, as config.json's is.
 */
export type Gemma3GgufFields = Pick<
  ModelConfig,
  | 'hiddenAct'
  | 'embeddingScale'
  | 'sandwichNorms'
  | 'qkNorm'
  | 'queryPreAttnScalar'
  | 'slidingLayers'
  | 'ropeLocalTheta'
  | 'slidingWindow'
  | 'ropeScaling'
>;

const LLAMA_CPP_SWA_PATTERN = 6;
const LLAMA_CPP_SWA_BASE = 10000;
const LLAMA_CPP_27B_LAYERS = 62;

interface Shape {
  hiddenSize: number;
  numHeads: number;
  headDim: number;
  numLayers: number;
  maxPositionEmbeddings: number;
}

type Num = (key: string, fallback?: number) => number;

function slidingLayersOf(file: GgufFile, K: (key: string) => string, num: Num, numLayers: number): number[] {
  const layers = Array.from({ length: numLayers }, (_, l) => l);
  const key = K('attention.sliding_window_pattern');
  const pattern = file.metadata[key];
  if (Array.isArray(pattern)) {
    if (pattern.length !== numLayers || !pattern.every((v) => typeof v === 'boolean'))
      throw new ShrinkrayError(
        'bad_config',
        `${file.name}: metadata key '${key}' must list true/false for each of the ${numLayers} layers`,
      );
    return layers.filter((l) => pattern[l] === true);
  }
  const period = num(key, LLAMA_CPP_SWA_PATTERN);
  if (!Number.isSafeInteger(period) || period <= 0)
    throw new ShrinkrayError('bad_config', `${file.name}: metadata key '${key}' must be a positive integer, got ${period}`);
  return layers.filter((l) => (l + 1) % period !== 0);
}

export function gemma3FieldsFromGguf(file: GgufFile, K: (key: string) => string, num: Num, shape: Shape): Gemma3GgufFields {
  const bad = (key: string, problem: string) => new ShrinkrayError('bad_config', `${file.name}: metadata key '${key}' ${problem}`);
  for (const key of [K('final_logit_softcapping'), K('attn_logit_softcapping')]) {
    if (num(key, 0) !== 0) throw bad(key, `is ${num(key)}: logit soft-capping is not supported (published Gemma 3 files have none)`);
  }
  const scalingKey = K('rope.scaling.type');
  const scaling = file.metadata[scalingKey];
  let ropeScaling: ModelConfig['ropeScaling'];
  if (scaling === 'linear') ropeScaling = { ropeType: 'linear', factor: num(K('rope.scaling.factor')) };
  else if (scaling !== undefined && scaling !== 'none')
    throw bad(scalingKey, `is ${JSON.stringify(scaling)}; a gemma3 file's RoPE scaling is 'linear' (Gemma 3 4B and up) or none`);
  const window = num(K('attention.sliding_window'), 0);
  const swa = window > 0;
  const slidingLayers = swa ? slidingLayersOf(file, K, num, shape.numLayers) : [];
  return {
    hiddenAct: 'gelu_tanh',
    embeddingScale: Math.sqrt(shape.hiddenSize),
    sandwichNorms: true,
    qkNorm: true,
    queryPreAttnScalar: shape.numLayers === LLAMA_CPP_27B_LAYERS ? Math.floor(shape.hiddenSize / shape.numHeads) : shape.headDim,
    slidingLayers,
    ropeLocalTheta: num(K('rope.freq_base_swa'), LLAMA_CPP_SWA_BASE),
    // A window as long as the context never bites: hf-config.ts drops it the same way.
    ...(swa && window < shape.maxPositionEmbeddings && { slidingWindow: window }),
    ...(ropeScaling && { ropeScaling }),
  };
}

/**
 * Gemma 3's end tokens by their text: a file converted from an -it model carries eos
 * <end_of_turn> only (gguf-py takes tokenizer_config.json's eos_token), one from a pretrained
 * model <eos> only; llama.cpp ends generation at <end_of_turn> by its text (llama-vocab.cpp's
 * end-of-generation list) and the published generation_config.json lists both (1 and 106).
 */
export function gemma3EndTokenIds(tokens: unknown): number[] {
  if (!Array.isArray(tokens)) return [];
  return ['<eos>', '<end_of_turn>'].map((t) => tokens.indexOf(t)).filter((id) => id >= 0);
}

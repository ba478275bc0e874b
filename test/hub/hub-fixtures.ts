import { cp, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { safetensorsHeader, writeSafetensors, type SafetensorsEntry } from '../../src/formats/safetensors.ts';
import { concatBytes } from '../concat-bytes.ts';

/**
 * Model folders for the loopback hub, generated deterministically into a temp root:
 * good ones (single file, sharded, ONNX only, the converted stories260K fixture when
 * `npm run fixtures` has made it) and broken ones (bad header, a shard missing).
 */
export const HUB_REPOS = Object.freeze({
  synthetic: 'test-org/synthetic-4m', // config.json + a 3.5 MiB model.safetensors
  synthetic16: 'test-org/synthetic-16m', // config.json + a 16 MiB model.safetensors (browser resume test)
  sharded: 'test-org/sharded', // two shards + index
  missingShard: 'test-org/missing-shard', // index names two shards, one is absent
  badHeader: 'test-org/bad-header', // model.safetensors whose header is not JSON
  onnxOnly: 'test-org/onnx-only', // config.json + onnx/model.onnx, no safetensors
  stories: 'test-org/stories260K', // the converted fixture model
});

const CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256, intermediate_size: 512,
  num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 2048,
  max_position_embeddings: 256, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, torch_dtype: 'float32',
};

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

function tensor(name: string, shape: number[], seed: number): SafetensorsEntry {
  return { name, dtype: 'F32', shape, data: syntheticFloats(shape.reduce((a, b) => a * b, 1), seed) };
}

async function put(root: string, repo: string, file: string, bytes: Uint8Array | string): Promise<void> {
  const path = join(root, repo, file);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}

/** A synthetic checkpoint: [2048, 256] embedding + `layers` pairs of [768, 256] / [256, 768] matrices, fp32 [out, in]. */
export function syntheticSafetensors(layers = 1): Uint8Array {
  const entries = [tensor('model.embed_tokens.weight', [2048, 256], 1)]; // [vocab, dim]
  for (let l = 0; l < layers; l++) {
    entries.push(tensor(`model.layers.${l}.mlp.up_proj.weight`, [768, 256], 2 + 2 * l)); // [ffn, dim]
    entries.push(tensor(`model.layers.${l}.mlp.down_proj.weight`, [256, 768], 3 + 2 * l)); // [dim, ffn]
  }
  return concatBytes(writeSafetensors(entries, { format: 'pt' }));
}

export async function writeHubFixtures(root: string, storiesDir?: string): Promise<void> {
  const config = JSON.stringify(CONFIG, null, 2) + '\n';
  await put(root, HUB_REPOS.synthetic, 'config.json', config);
  await put(root, HUB_REPOS.synthetic, 'model.safetensors', syntheticSafetensors());
  await put(root, HUB_REPOS.synthetic16, 'config.json', config);
  await put(root, HUB_REPOS.synthetic16, 'model.safetensors', syntheticSafetensors(10)); // 2 + 10 * 1.5 MiB

  const shardA = [tensor('model.embed_tokens.weight', [512, 256], 4)];
  const shardB = [tensor('model.norm.weight', [256], 5), tensor('model.layers.0.mlp.up_proj.weight', [256, 256], 6)];
  const index = {
    metadata: { total_size: 4 * (512 * 256 + 256 + 256 * 256) },
    weight_map: {
      'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
      'model.norm.weight': 'model-00002-of-00002.safetensors',
      'model.layers.0.mlp.up_proj.weight': 'model-00002-of-00002.safetensors',
    },
  };
  for (const repo of [HUB_REPOS.sharded, HUB_REPOS.missingShard]) {
    await put(root, repo, 'config.json', config);
    await put(root, repo, 'model.safetensors.index.json', JSON.stringify(index, null, 2));
    await put(root, repo, 'model-00001-of-00002.safetensors', concatBytes(writeSafetensors(shardA)));
  }
  await put(root, HUB_REPOS.sharded, 'model-00002-of-00002.safetensors', concatBytes(writeSafetensors(shardB)));

  // A header length that fits, followed by bytes that are not JSON.
  const good = safetensorsHeader([{ name: 'w', dtype: 'F32', shape: [64] }]);
  const bad = concatBytes([good.subarray(0, 8), new TextEncoder().encode('{"w": {"dtype": "F32", "shape": [64], "data_offs'.padEnd(good.byteLength - 8, '#')), new Uint8Array(256)]);
  await put(root, HUB_REPOS.badHeader, 'config.json', config);
  await put(root, HUB_REPOS.badHeader, 'model.safetensors', bad);

  await put(root, HUB_REPOS.onnxOnly, 'config.json', config);
  await put(root, HUB_REPOS.onnxOnly, 'onnx/model.onnx', concatBytes([new Uint8Array([0x08, 0x07]), new Uint8Array(new Float32Array(syntheticFloats(4096, 7)).buffer)]));

  if (storiesDir && (await stat(storiesDir).catch(() => undefined))?.isDirectory()) {
    await cp(storiesDir, join(root, HUB_REPOS.stories), { recursive: true });
  }
}

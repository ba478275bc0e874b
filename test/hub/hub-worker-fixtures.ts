import { copyFile, mkdir, open, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { safetensorsHeader, type SafetensorsDescriptor } from '../../src/formats/safetensors.ts';
import { writeAnchorStories, writeKquantModel } from '../gguf/gguf-fixtures.ts';
import { CLI_CALIBRATED, CLI_CALIBRATED_REPO } from './cli-calibrated.ts';
import { syntheticFloats } from './hub-fixtures.ts';
import { LIBRARY_EXPECTED_FILE, LIBRARY_EXPECTED_REPO, LIBRARY_REPO } from '../library-model.ts';

/**
 * What the worker pipeline tests (test/browser/worker-*.test.ts) need from the loopback
 * hub, beside hub-fixtures.ts: a large synthetic model, and the fixture texts (read from
 * ../shared where they are, copied only into the hub's temp root) since the test page
 * may not read outside the project.
 */
export const FIXTURE_TEXT_REPO = 'test-org/fixture-text';
const FIXTURES = process.env.SHRINKRAY_FIXTURES ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures');

/** Serves README.md, the sample and calibration stories and the llama2.c pair (for local-import tests) of the fixtures, when they exist. */
export async function writeFixtureText(root: string): Promise<void> {
  const dir = join(root, FIXTURE_TEXT_REPO);
  await mkdir(dir, { recursive: true });
  const files = [
    ['README.md', 'README.md'],
    ['text/tinystories_sample.txt', 'tinystories_sample.txt'],
    ['text/tinystories_calibration.txt', 'tinystories_calibration.txt'],
    ['stories260K/stories260K.bin', 'stories260K.bin'],
    ['stories260K/tok512.bin', 'tok512.bin'],
  ];
  for (const [from, to] of files) {
    if (await stat(join(FIXTURES, from!)).catch(() => undefined)) await copyFile(join(FIXTURES, from!), join(dir, to!));
  }
  await writeGgufFiles(dir);
}

/** stories260K-Q8_0.gguf (the wllama anchor's writer) and kquant.gguf (test/gguf/kquant_gguf.py), for the GGUF local import. */
async function writeGgufFiles(dir: string): Promise<void> {
  if (!(await stat(join(FIXTURES, 'stories260K', 'stories260K.bin')).catch(() => undefined))) return;
  const build = join(dir, '..', '.gguf-build');
  await writeAnchorStories(build, ['Q8_0']);
  await copyFile(join(build, 'stories260K-Q8_0.gguf'), join(dir, 'stories260K-Q8_0.gguf'));
  await copyFile(await writeKquantModel(join(build, 'kquant')), join(dir, 'kquant.gguf'));
  await rm(build, { recursive: true, force: true });
}

export async function writeWorkerFixtures(root: string): Promise<void> {
  await writeFixtureText(root);
  await writeSyntheticSmolLM(root);
  await writeCliCalibrated(root);
  // The library's model (test/library-model.ts): compressed by the CLI, with the greedy text the CLI gives.
  const { writeLibraryHubFixture } = await import('../library-model-node.ts');
  await writeLibraryHubFixture(root, LIBRARY_REPO, LIBRARY_EXPECTED_REPO, LIBRARY_EXPECTED_FILE);
}

/** What `shrinkray compress --calib` writes for the recipes of cli-calibrated.ts, through the CLI's own entry. */
async function writeCliCalibrated(root: string): Promise<void> {
  const calib = join(FIXTURES, 'text', 'tinystories_calibration.txt');
  if (!(await stat(calib).catch(() => undefined))) return;
  const { main } = await import('../../src/cli/main.ts');
  for (const recipe of CLI_CALIBRATED.recipes) {
    const out = join(root, CLI_CALIBRATED_REPO, recipe);
    const args = ['--calib', calib, '--calib-windows', String(CLI_CALIBRATED.windows), '--calib-seed', String(CLI_CALIBRATED.seed)];
    const code = await main(['compress', resolve('public/models/stories260K'), '--recipe', recipe, '--out', out, ...args]);
    if (code !== 0) throw new Error(`shrinkray compress --recipe ${recipe} failed (exit ${code})`);
  }
}

/**
 * A deterministic synthetic model for speed and memory tests: the SmolLM2-135M shape
 * (dim 576, 9 heads, 3 KV heads, FFN 1536, vocab 49152, tied embeddings) with 13 layers
 * instead of 30, so model.safetensors is ~297 MB fp32 (the [49152, 576] embedding, 113 MB,
 * is the largest tensor). Random weights: for throughput and memory, never for quality.
 * A WordLevel tokenizer over the whole vocabulary ('w3', 'w4', ...) lets it generate.
 */
export const SYNTHETIC_SMOLLM_REPO = 'test-org/synthetic-smollm-13l';
/** The same shape with fewer layers (the end-to-end tests use 4: ~170 MB, the embedding still dominant). */
export const syntheticSmolLMRepo = (layers: number) => `test-org/synthetic-smollm-${layers}l`;

const DIM = 576;
const FFN = 1536;
const HEADS = 9;
const KV_HEADS = 3;
const HEAD_DIM = 64;
const VOCAB = 49152;
const LAYERS = 13;

export const SYNTHETIC_SMOLLM_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: DIM,
  intermediate_size: FFN,
  num_hidden_layers: LAYERS,
  num_attention_heads: HEADS,
  num_key_value_heads: KV_HEADS,
  head_dim: HEAD_DIM,
  vocab_size: VOCAB,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: 2,
  torch_dtype: 'float32',
};

function tensors(layers: number): SafetensorsDescriptor[] {
  const out: SafetensorsDescriptor[] = [{ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [VOCAB, DIM] }]; // [vocab, dim]
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    out.push(
      { name: `${p}.input_layernorm.weight`, dtype: 'F32', shape: [DIM] },
      { name: `${p}.self_attn.q_proj.weight`, dtype: 'F32', shape: [HEADS * HEAD_DIM, DIM] }, // [out, in]
      { name: `${p}.self_attn.k_proj.weight`, dtype: 'F32', shape: [KV_HEADS * HEAD_DIM, DIM] },
      { name: `${p}.self_attn.v_proj.weight`, dtype: 'F32', shape: [KV_HEADS * HEAD_DIM, DIM] },
      { name: `${p}.self_attn.o_proj.weight`, dtype: 'F32', shape: [DIM, HEADS * HEAD_DIM] },
      { name: `${p}.post_attention_layernorm.weight`, dtype: 'F32', shape: [DIM] },
      { name: `${p}.mlp.gate_proj.weight`, dtype: 'F32', shape: [FFN, DIM] },
      { name: `${p}.mlp.up_proj.weight`, dtype: 'F32', shape: [FFN, DIM] },
      { name: `${p}.mlp.down_proj.weight`, dtype: 'F32', shape: [DIM, FFN] },
    );
  }
  out.push({ name: 'model.norm.weight', dtype: 'F32', shape: [DIM] });
  return out;
}

/** Values of one tensor: norms near 1, matrices uniform in ±1/sqrt(in) so activations stay bounded. */
function values(t: SafetensorsDescriptor, seed: number): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const v = syntheticFloats(n, seed);
  const scale = t.shape.length === 1 ? 0.1 : 1 / Math.sqrt(t.shape[1]!);
  for (let i = 0; i < n; i++) v[i] = t.shape.length === 1 ? 1 + v[i]! * scale : v[i]! * scale;
  return v;
}

function tokenizerJson(): Record<string, unknown> {
  const special = ['<unk>', '<s>', '</s>'];
  const vocab: Record<string, number> = {};
  for (let i = 0; i < VOCAB; i++) vocab[i < 3 ? special[i]! : `w${i}`] = i;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

/** Writes the repo under `root` (streamed: one tensor in memory at a time); a no-op when it is already there. */
export async function writeSyntheticSmolLM(root: string, layers = LAYERS): Promise<void> {
  const dir = join(root, syntheticSmolLMRepo(layers));
  const list = tensors(layers);
  const header = safetensorsHeader(list, { format: 'pt' });
  const size = header.byteLength + list.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if ((await stat(join(dir, 'model.safetensors')).catch(() => undefined))?.size === size) return;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...SYNTHETIC_SMOLLM_CONFIG, num_hidden_layers: layers }, null, 2) + '\n');
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  // A minimal chat template, so the chat worker's messages path runs on this model too.
  const chatTemplate = "{{ bos_token }}{% for m in messages %}{{ m['content'] }} {% endfor %}";
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', chat_template: chatTemplate }, null, 2),
  );
  const file = await open(join(dir, 'model.safetensors'), 'w');
  try {
    await file.write(header);
    for (const [i, t] of list.entries()) {
      const v = values(t, 1000 + i);
      await file.write(new Uint8Array(v.buffer));
    }
  } finally {
    await file.close();
  }
}

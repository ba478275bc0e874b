import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readGguf } from '../../src/formats/gguf.ts';
import { convertGgufTokenizer } from '../../src/formats/tokenizer-gguf.ts';
import { openHfModel } from '../../src/model/hf-model.ts';
import { importGguf } from '../../src/model/import-gguf.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { folderOpener } from '../../src/node/folder-opener.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { BUDGET } from '../error-budgets.ts';
import { relativeLogitDiff } from './logit-diff.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { writeHfAsGguf } from '../gguf/gguf-fixtures.ts';
import { pythonWithNumpy } from '../python-numpy.ts';
import { MULTILINGUAL_TEXT, realTokenizer } from '../real-tokenizers.ts';
import { GEMMA3_270M, independentLogits, tinyConfigJson, writeTinyModel } from './arch-models.ts';
import { runCli } from './run-cli.ts';

/**
 * gemma3 GGUF files, written by test/gguf/hf_to_gguf.py (Gemma3Model's keys and tensor names, the
 * + 1 on every norm) from a tiny Gemma 3 twin with gemma-3-270m-it's fields, shaped as llama.cpp's
 * loader assumes what it does not store: every 6th layer global, local RoPE base 10000,
 * query_pre_attn_scalar = head_dim; a window (8) shorter than the 12 test positions. The
 * vocabulary: the real Gemma 3 tokenizer written as a GGUF SentencePiece vocabulary
 * (test/gguf/spm_vocab_gguf.py), converted back and run in transformers.js beside the published one.
 */
const TWIN = {
  ...tinyConfigJson(GEMMA3_270M),
  num_hidden_layers: 6,
  layer_types: [...Array<string>(5).fill('sliding_attention'), 'full_attention'],
  query_pre_attn_scalar: 32, // = head_dim: llama.cpp scales by 1/sqrt(head_dim) (all but the 27B shape)
  vocab_size: 512, // Gemma's 107 control tokens and 256 byte tokens, then pieces
  eos_token_id: [1, 106], // <eos>, <end_of_turn>: gemma-3-1b-it's
};
const IDS = [2, 105, 400, 363, 17, 500, 450, 381, 106, 7, 420, 399];

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shrinkray-gguf-gemma3-'));
  await writeTinyModel(join(work, 'bf16'), TWIN, 'BF16');
  await writeTinyModel(join(work, 'f16'), TWIN, 'F16');
  await writeHfAsGguf(join(work, 'bf16'), join(work, 'gemma-F32.gguf'), 'F32'); // the later tests' file
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const twin = async (dir: string): Promise<ModelIR> => {
  const { open, display } = folderOpener(dir);
  return (await openHfModel(open, display)).ir;
};
const importFile = async (path: string) => (await importGguf(await fileSource(path))).ir;
const readF32 = (path: string) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
async function logits(ir: ModelIR): Promise<Float32Array> {
  const model = await ReferenceModel.load(ir);
  return model.forward(model.createState(), IDS);
}

describe('gemma3 GGUF against its safetensors twin', () => {
  it.each(['F32', 'BF16'] as const)(
    '%s from bf16: the same config, every tensor bit for bit (norms 1 + w once), the same logits',
    async (type) => {
      const dir = join(work, 'bf16');
      const path = join(work, `gemma-${type}.gguf`);
      const gguf = await importFile(type === 'F32' ? path : await writeHfAsGguf(dir, path, type));
      const hf = await twin(dir);
      expect(gguf.config).toEqual(hf.config);
      expect(gguf.config).toMatchObject({
        slidingLayers: [0, 1, 2, 3, 4],
        slidingWindow: 8,
        ropeLocalTheta: 10000,
        queryPreAttnScalar: 32,
      });
      expect([...gguf.tensors.keys()].sort()).toEqual([...hf.tensors.keys()].sort());
      for (const [name, t] of hf.tensors) expect(await gguf.tensors.get(name)!.read(), name).toEqual(await t.read());
      const norm = await gguf.tensors.get('model.layers.0.post_attention_layernorm.weight')!.read();
      expect(Math.min(...norm)).toBeGreaterThan(0.5); // 1 + w with w ~ U(-0.3, 0.3): folded once, not twice (~2) nor never (~0)
      expect(Math.max(...norm)).toBeLessThan(1.5);

      const ours = await logits(gguf);
      expect(ours).toEqual(await logits(hf));
      expect(relativeLogitDiff(ours, (await independentLogits(dir, IDS)).logits)).toBeLessThan(BUDGET.independentVsEngineRelative);
    },
  );

  it('F16 from f16: matrices bit for bit; norms are the converter’s 1 + w, added in float16 as it holds an f16 checkpoint', async () => {
    const dir = join(work, 'f16');
    const ref = join(work, 'f16-ref');
    const gguf = await importFile(await writeHfAsGguf(dir, join(work, 'gemma-f16.gguf'), 'F16', ref));
    const hf = await twin(dir);
    expect(gguf.config).toEqual(hf.config);
    for (const [name, t] of hf.tensors) {
      const got = await gguf.tensors.get(name)!.read();
      expect(got, name).toEqual(name.endsWith('norm.weight') ? readF32(join(ref, `${name}.f32`)) : await t.read());
    }
    const q = 'model.layers.5.self_attn.q_norm.weight';
    expect(await gguf.tensors.get(q)!.read()).not.toEqual(await hf.tensors.get(q)!.read()); // float16's 1 + w, not float32's
  });

  it('through the CLI: a Gemma3ForCausalLM folder whose norms hold w, which reads back to the same model', async () => {
    const out = join(work, 'folder');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const { code, stderr } = await runCli(['import', join(work, 'gemma-F32.gguf'), '--out', out]);
    log.mockRestore();
    expect(code, stderr).toBe(0);
    const written = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({
      architectures: ['Gemma3ForCausalLM'],
      layer_types: TWIN.layer_types,
      rope_local_base_freq: 10000,
      query_pre_attn_scalar: 32,
      sliding_window: 8,
    });
    const folder = await loadModelFolder(out); // the tokenizer loads from tokenizer.json
    const gguf = await importFile(join(work, 'gemma-F32.gguf'));
    expect(folder.ir.config).toEqual(gguf.config);
    for (const [name, t] of gguf.tensors) expect(await folder.ir.tensors.get(name)!.read(), name).toEqual(await t.read());
    // The stored norm is w (around 0), as a safetensors checkpoint holds it.
    const file = readFileSync(join(out, 'model.safetensors'));
    const n = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: number[] }>;
    const entry = header['model.norm.weight']!;
    expect(entry.dtype).toBe('F32');
    const raw = file.subarray(8 + n + entry.data_offsets[0]!, 8 + n + entry.data_offsets[1]!);
    const stored = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    expect(Math.max(...stored.map(Math.abs))).toBeLessThan(0.5);
  });

  it('4B and up: rope_scaling linear (factor 8) on the global layers comes back from rope.scaling.*', async () => {
    const dir = join(work, 'linear');
    await writeTinyModel(dir, { ...TWIN, rope_scaling: { rope_type: 'linear', factor: 8 } }, 'BF16');
    const gguf = await importFile(await writeHfAsGguf(dir, join(work, 'gemma-linear.gguf'), 'BF16'));
    expect(gguf.config.ropeScaling).toEqual({ ropeType: 'linear', factor: 8 });
    expect(gguf.config).toEqual((await twin(dir)).config);
  });

  it('ends at <eos> and <end_of_turn> though the file names one of them', async () => {
    const bytes = new Uint8Array(readFileSync(join(work, 'gemma-F32.gguf')));
    const key = new TextEncoder().encode('tokenizer.ggml.eot_token_id');
    const at = bytes.findIndex((_, i) => key.every((c, j) => bytes[i + j] === c));
    bytes.set(new TextEncoder().encode('tokenizer.ggml.eot_token_ix'), at); // the file now names <eos> (1) only
    expect((await importGguf(bytesSource(bytes, 'eos.gguf'))).ir.config.eosTokenId).toEqual([1, 106]);
  });

  it('a missing key, a missing norm, a wrongly shaped norm and a vocabulary that is not Gemma’s are named', async () => {
    const path = join(work, 'gemma-F32.gguf');
    const renamed = (from: string, to: string): Uint8Array => {
      const bytes = new Uint8Array(readFileSync(path));
      const needle = new TextEncoder().encode(from);
      const at = bytes.findIndex((_, i) => needle.every((c, j) => bytes[i + j] === c));
      expect(at).toBeGreaterThanOrEqual(0);
      bytes.set(new TextEncoder().encode(to), at);
      return bytes;
    };
    const load = (bytes: Uint8Array) => importGguf(bytesSource(bytes, 'bad.gguf'));
    await expectShrinkrayError(
      load(renamed('gemma3.attention.layer_norm_rms_epsilon', 'gemma3.attention.layer_norm_rms_epsilom')),
      'bad_config',
      /'gemma3\.attention\.layer_norm_rms_epsilon' is missing/,
    );
    await expectShrinkrayError(
      load(renamed('blk.3.post_ffw_norm.weight', 'blk.3.post_ffw_norm.weighx')),
      'bad_file',
      "bad.gguf: the required tensor 'blk.3.post_ffw_norm.weight' is missing",
    );
    const bytes = new Uint8Array(readFileSync(path));
    const name = new TextEncoder().encode('blk.0.post_attention_norm.weight');
    const at = bytes.findIndex((_, i) => name.every((c, j) => bytes[i + j] === c)) + name.length + 4;
    new DataView(bytes.buffer).setBigUint64(at, 32n, true); // ne[0] 64 -> 32
    await expectShrinkrayError(
      load(bytes),
      'bad_file',
      "bad.gguf: tensor 'blk.0.post_attention_norm.weight' has shape [32] but the metadata implies [64]",
    );
    // Without add_space_prefix false the vocabulary is read as Llama 2's, whose layout Gemma's is not: refused, not guessed.
    await expectShrinkrayError(
      load(renamed('tokenizer.ggml.add_space_prefix', 'tokenizer.ggml.add_space_prefiy')),
      'bad_file',
      "bad.gguf: metadata key 'tokenizer.ggml.unknown_token_id' is 3; Shrinkray's SentencePiece conversion needs <unk> at id 0",
    );
    await expectShrinkrayError(
      load(renamed('<0x41>', '<0x4G>')),
      'bad_file',
      "bad.gguf: metadata key 'tokenizer.ggml.tokens' lacks the byte token '<0x41>': a SentencePiece vocabulary falls back to bytes",
    );
  });
});

describe('the real Gemma 3 vocabulary through GGUF', () => {
  const real = realTokenizer('gemma3');
  const SAMPLES = [
    MULTILINGUAL_TEXT,
    ...MULTILINGUAL_TEXT.split('\n'),
    ' leading space',
    'two  spaces,   three, \u2581literal, <start_of_turn>user\nHi<end_of_turn>\n<h1>tag</h1>\t\t\n\n\nend',
    'x',
    '',
  ];

  let converted: Promise<ReturnType<typeof convertGgufTokenizer>> | undefined;
  const convert = () =>
    (converted ??= (async () => {
      const gguf = join(work, 'vocab.gguf');
      await promisify(execFile)(await pythonWithNumpy(), [join(import.meta.dirname, '..', 'gguf', 'spm_vocab_gguf.py'), real.dir, gguf]);
      const file = await readGguf(await fileSource(gguf));
      return convertGgufTokenizer(file.metadata, 'vocab.gguf', 262144, 32768);
    })());

  it('converts to the published merges, pieces and added tokens', async () => {
    const { tokenizerJson, tokenizerConfig } = await convert();
    const model = real.tokenizerJson.model as { vocab: Record<string, number>; merges: [string, string][] };
    const ours = tokenizerJson.model as typeof model;
    // 514,906 merges and 262,144 pieces: compared as JSON (a deep toEqual takes seconds), the first difference shown.
    expect(ours.merges.length).toBe(model.merges.length);
    const differs = ours.merges.findIndex((m, i) => m[0] !== model.merges[i]![0] || m[1] !== model.merges[i]![1]);
    expect(differs < 0 ? null : [differs, ours.merges[differs], model.merges[differs]]).toBeNull();
    expect(JSON.stringify(ours.vocab) === JSON.stringify(model.vocab)).toBe(true);
    // llama.cpp's converter marks <mask> and <unusedN> control because they look special; the published file has them not special.
    const added = (t: Record<string, unknown>) =>
      (t.added_tokens as { id: number; content: string; special: boolean }[])
        .filter((a) => a.id < 262144)
        .map((a) => ({ ...a, special: a.special || /^<(mask|unused\d+)>$/.test(a.content) }));
    expect(added(tokenizerJson)).toEqual(added(real.tokenizerJson));
    expect(tokenizerConfig).toMatchObject({ bos_token: '<bos>', eos_token: '<end_of_turn>', pad_token: '<pad>', add_bos_token: true });
  }, 30_000);

  it('encodes, decodes and renders chats as transformers.js does with the published tokenizer', async () => {
    const { tokenizerJson, tokenizerConfig } = await convert();
    const dir = join(work, 'tok', 'gemma-gguf');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
    env.allowRemoteModels = false;
    env.localModelPath = `${join(work, 'tok')}/`;
    const fromGguf = await AutoTokenizer.from_pretrained('gemma-gguf');
    env.localModelPath = `${join(real.dir, '..', '..')}/`;
    const published = await AutoTokenizer.from_pretrained('tokenizer-gemma3/models');
    for (const text of SAMPLES) {
      expect(fromGguf.encode(text), text).toEqual(published.encode(text));
      expect(fromGguf.encode(text, { add_special_tokens: false }), text).toEqual(published.encode(text, { add_special_tokens: false }));
    }
    const ids = published.encode(MULTILINGUAL_TEXT);
    expect(fromGguf.decode(ids, { skip_special_tokens: true })).toBe(published.decode(ids, { skip_special_tokens: true }));
    const chat = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Wie heißt 🍕 auf Japanisch?' },
      { role: 'assistant', content: 'ピザ (piza).' },
      { role: 'user', content: 'And  in code?' },
    ];
    const render = (t: typeof published) => t.apply_chat_template(chat, { tokenize: false, add_generation_prompt: true });
    expect(render(fromGguf)).toEqual(render(published));
    const tokenize = (t: typeof published) =>
      t.apply_chat_template(chat, { tokenize: true, add_generation_prompt: true, return_tensor: false });
    expect(tokenize(fromGguf)).toEqual(tokenize(published));
  }, 60_000);
});

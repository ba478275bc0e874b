import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readGguf } from '../../src/formats/gguf.ts';
import { toHfConfig } from '../../src/model/hf-config.ts';
import { openHfModel } from '../../src/model/hf-model.ts';
import { llama3ScalingFromRopeFreqs } from '../../src/model/gguf-rope-freqs.ts';
import { importGguf } from '../../src/model/import-gguf.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { ropeInverseFrequencies } from '../../src/model/rope-frequencies.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { folderOpener } from '../../src/node/folder-opener.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { BUDGET } from '../error-budgets.ts';
import { relativeLogitDiff } from './logit-diff.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { converterRopeFreqs, writeHfAsGguf } from '../gguf/gguf-fixtures.ts';
import { runCli } from './run-cli.ts';
import { independentLogits, LLAMA_32_1B, QWEN25_05B, QWEN3_06B, tinyConfigJson, writeTinyModel } from './arch-models.ts';

/**
 * GGUF files of every family Shrinkray imports, written by test/gguf/hf_to_gguf.py (llama.cpp's
 * converter's keys, tensor names, llama's q/k row order and Llama 3's rope_freqs.weight; numpy
 * only) from a tiny Hugging Face twin with a published config's fields (arch-models.ts):
 * Llama 3.2 (llama3 rope_scaling, head_dim 64 != hidden / heads, tied), Qwen2.5 (q/k/v biases),
 * Qwen3 (q/k norms, head_dim 128). From F16 the import is the twin: the same config, the same
 * bits in every tensor, and logits within the budget of the independent float64 forward on the
 * twin. From Q8_0: the same config and the writer's own dequantized values.
 */
const FAMILIES = {
  llama: tinyConfigJson(LLAMA_32_1B),
  qwen2: { ...tinyConfigJson(QWEN25_05B), hidden_size: 64 }, // rows of whole Q8_0 blocks
  qwen3: tinyConfigJson(QWEN3_06B),
} as const;
type Family = keyof typeof FAMILIES;
const IDS = [1, 40, 300, 17, 5, 99, 250, 7];

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shrinkray-gguf-families-'));
  for (const [family, json] of Object.entries(FAMILIES)) {
    await writeTinyModel(join(work, family), json, 'F16');
    await writeHfAsGguf(join(work, family), join(work, `${family}-f16.gguf`), 'F16');
  }
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const twin = async (dir: string): Promise<ModelIR> => {
  const { open, display } = folderOpener(dir);
  return (await openHfModel(open, display)).ir;
};
const readF32 = (path: string) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
/** A copy of a GGUF file with ne[0] of the tensor info of `name` changed from `from` to `to` (its data left as it is). */
function withFirstDim(bytes: Uint8Array, name: string, from: number, to: number): Uint8Array {
  const out = bytes.slice();
  const needle = new TextEncoder().encode(name);
  const at = out.findIndex((_, i) => needle.every((c, j) => out[i + j] === c)) + needle.length + 4; // past the name and n_dims
  expect(new DataView(out.buffer).getBigUint64(at, true)).toBe(BigInt(from));
  new DataView(out.buffer).setBigUint64(at, BigInt(to), true);
  return out;
}
const importFile = async (path: string) => (await importGguf(await fileSource(path))).ir;

async function logits(ir: ModelIR): Promise<Float32Array> {
  const model = await ReferenceModel.load(ir);
  return model.forward(model.createState(), IDS);
}

describe.each(Object.keys(FAMILIES) as Family[])('%s GGUF against its safetensors twin', (family) => {
  it('F16: the same config, every tensor bit for bit, and the independent float64 forward’s logits', async () => {
    const dir = join(work, family);
    const gguf = await importFile(join(work, `${family}-f16.gguf`));
    const hf = await twin(dir);
    expect(gguf.config).toEqual(hf.config);
    expect([...gguf.tensors.keys()].sort()).toEqual([...hf.tensors.keys()].sort());
    for (const [name, t] of hf.tensors) expect(await gguf.tensors.get(name)!.read(), name).toEqual(await t.read());

    const ours = await logits(gguf);
    expect(ours).toEqual(await logits(hf));
    expect(relativeLogitDiff(ours, (await independentLogits(dir, IDS)).logits)).toBeLessThan(BUDGET.independentVsEngineRelative);
  });

  it('Q8_0: the same config, and every tensor equal to the writer’s dequantized values', async () => {
    const dir = join(work, family);
    const ref = join(work, `${family}-q8-ref`);
    const gguf = await importFile(await writeHfAsGguf(dir, join(work, `${family}-q8.gguf`), 'Q8_0', ref));
    const hf = await twin(dir);
    expect(gguf.config).toEqual(hf.config);
    for (const name of hf.tensors.keys()) expect(await gguf.tensors.get(name)!.read(), name).toEqual(readF32(join(ref, `${name}.f32`)));
    // Really decoded: a projection's values moved by the quantization.
    const q = 'model.layers.0.self_attn.q_proj.weight';
    expect(await gguf.tensors.get(q)!.read()).not.toEqual(await hf.tensors.get(q)!.read());
  });
});

describe('through the CLI', () => {
  it('each family’s folder reads back with its twin’s config, and its tokenizer loads', async () => {
    for (const family of Object.keys(FAMILIES) as Family[]) {
      const out = join(work, `${family}-folder`);
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      const { code, stderr } = await runCli(['import', join(work, `${family}-f16.gguf`), '--out', out]);
      log.mockRestore();
      expect(code, stderr).toBe(0);
      const folder = await loadModelFolder(out); // builds the tokenizer from tokenizer.json: a bad pre-tokenizer fails here
      expect(folder.ir.config, family).toEqual((await twin(join(work, family))).config);
    }
  });
});

describe('Llama 3 rope_freqs.weight', () => {
  it('becomes the rope_scaling it was written from, as config.json spells it; other low/high factors are fitted', async () => {
    const llama = await importFile(join(work, 'llama-f16.gguf'));
    const published = JSON.parse(await readFile(join(work, 'llama', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(toHfConfig(llama.config).rope_scaling).toEqual(published.rope_scaling);

    const scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 2, high_freq_factor: 6, original_max_position_embeddings: 8192 };
    const dir = join(work, 'llama-2-6');
    await writeTinyModel(dir, { ...FAMILIES.llama, rope_scaling: scaling }, 'F16');
    const fitted = await importFile(await writeHfAsGguf(dir, join(work, 'llama-2-6.gguf'), 'F16'));
    expect(fitted.config).toEqual((await twin(dir)).config);
    expect(toHfConfig(fitted.config).rope_scaling).toEqual(scaling);
  });

  it('is inverted for the published Llama 3.1/3.2 settings and others, over head sizes and RoPE bases', async () => {
    // [factor, low, high]: the published pairs and others; then bands so narrow that one blended pair or none pins
    // them down only up to the table (any low/high between the neighbouring pairs gives the same frequencies).
    const exact = [
      [8, 1, 4],
      [32, 1, 4],
      [8, 2, 6],
      [16, 1.5, 5],
      [4, 1, 2],
    ];
    const narrow = [
      [8, 1, 1.2],
      [2, 1, 1.05],
    ];
    const cases = [500000, 10000, 1000000].flatMap((theta) =>
      [64, 128].flatMap((headDim) =>
        [...exact, ...narrow].map(([factor, low, high], k) => ({
          theta,
          headDim,
          factor: factor!,
          low: low!,
          high: high!,
          exact: k < exact.length,
        })),
      ),
    );
    const tables = await converterRopeFreqs(
      cases.map((c) => ({
        rope_theta: c.theta,
        head_dim: c.headDim,
        hidden_size: 1024,
        num_attention_heads: 8,
        rope_scaling: { rope_type: 'llama3', factor: c.factor, low_freq_factor: c.low, high_freq_factor: c.high },
      })),
    );
    let worst = 0;
    cases.forEach((c, i) => {
      const table = tables[i]!;
      const s = llama3ScalingFromRopeFreqs(Float32Array.from(table), c.theta, c.headDim, 'x.gguf')!;
      expect(s, JSON.stringify(c)).toMatchObject({ ropeType: 'llama3', factor: c.factor, originalMaxPositionEmbeddings: 8192 });
      if (c.exact) expect([s.lowFreqFactor, s.highFreqFactor], JSON.stringify(c)).toEqual([c.low, c.high]);
      // What every runner turns by (rope-frequencies.ts) against what llama.cpp turns by: theta^(-2i/d) / divisor.
      const inv = ropeInverseFrequencies({ headDim: c.headDim, ropeTheta: c.theta, ropeScaling: s });
      inv.forEach((f, j) => (worst = Math.max(worst, Math.abs(f * table[j]! * Math.pow(c.theta, (2 * j) / c.headDim) - 1))));
    });
    expect(worst).toBeLessThan(1e-5);
    expect(llama3ScalingFromRopeFreqs(new Float32Array(32).fill(1), 500000, 64, 'x.gguf')).toBeUndefined(); // plain RoPE
  });

  it('is refused, naming the tensor, when no llama3 parameters give it or it has the wrong length', async () => {
    const bytes = new Uint8Array(readFileSync(join(work, 'llama-f16.gguf')));
    const t = (await readGguf(bytesSource(bytes, 'x.gguf'))).tensors.get('rope_freqs.weight')!;
    const values = new Float32Array(bytes.slice(t.fileOffset, t.fileOffset + t.byteLength).buffer);
    expect(values.filter((v) => v > 1 && v < 32).length).toBe(3); // three blended pairs: 15, 16, 17

    const tampered = bytes.slice();
    new DataView(tampered.buffer).setFloat32(t.fileOffset + 16 * 4, values[16]! * 1.001, true);
    await expectShrinkrayError(
      importGguf(bytesSource(tampered, 'tampered.gguf')),
      'bad_file',
      /^tampered\.gguf: tensor 'rope_freqs\.weight' is not Llama 3 RoPE scaling: .*\(pair 16 holds /,
    );

    // ne[0] of its tensor info, 32 -> 16: a shorter table than the head's 32 pairs.
    const short = withFirstDim(bytes, 'rope_freqs.weight', 32, 16);
    await expectShrinkrayError(
      importGguf(bytesSource(short, 'short.gguf')),
      'bad_file',
      "short.gguf: tensor 'rope_freqs.weight' holds 16 values, but RoPE over a head of 64 turns 32 pairs",
    );
  });
});

describe('bad qwen2/qwen3 GGUF files', () => {
  /** A copy of a file with the first occurrence of the same-length string `from` replaced by `to`. */
  const renamed = (path: string, from: string, to: string): Uint8Array => {
    const bytes = new Uint8Array(readFileSync(path));
    const needle = new TextEncoder().encode(from);
    const at = bytes.findIndex((_, i) => needle.every((c, j) => bytes[i + j] === c));
    expect(at).toBeGreaterThanOrEqual(0);
    bytes.set(new TextEncoder().encode(to), at);
    return bytes;
  };

  it('a missing key, a missing bias, contradicting head sizes, a wrongly shaped norm and an unknown architecture are named', async () => {
    const qwen3 = join(work, 'qwen3-f16.gguf');
    const qwen2 = join(work, 'qwen2-f16.gguf');
    const load = (bytes: Uint8Array) => importGguf(bytesSource(bytes, 'bad.gguf'));
    await expectShrinkrayError(
      load(renamed(qwen3, 'qwen3.block_count', 'qwen3.block_kount')),
      'bad_config',
      /'qwen3\.block_count' is missing/,
    );
    await expectShrinkrayError(
      load(renamed(qwen2, 'blk.1.attn_k.bias', 'blk.1.attn_k.biaz')),
      'bad_file',
      /'blk\.1\.attn_k\.bias' is missing/,
    );
    // Without attention.key_length the head size would be hidden / heads = 16, which value_length (128) contradicts.
    await expectShrinkrayError(
      load(renamed(qwen3, 'qwen3.attention.key_length', 'qwen3.attention.key_lengtx')),
      'bad_config',
      "bad.gguf: 'qwen3.attention.value_length' differs from 'qwen3.attention.key_length' (16)",
    );
    await expectShrinkrayError(
      load(withFirstDim(new Uint8Array(readFileSync(qwen3)), 'blk.0.attn_k_norm.weight', 128, 64)),
      'bad_file',
      "bad.gguf: tensor 'blk.0.attn_k_norm.weight' has shape [64] but the metadata implies [128]",
    );
    await expectShrinkrayError(
      load(renamed(qwen3, 'qwen3', 'gemma')),
      'unsupported_architecture',
      /general\.architecture is "gemma"; Shrinkray imports GGUF files of these architectures: llama, qwen2, qwen3, gemma3$/,
    );
  });
});

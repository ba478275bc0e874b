import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { convertGgufTokenizer } from '../../src/formats/tokenizer-gguf.ts';
import { floatToHalf } from '../../src/kernels/half.ts';
import { dequantizeGgml } from '../../src/kernels/gguf-dequantize.ts';
import { importGguf } from '../../src/model/import-gguf.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { writeKquantModel } from '../gguf/gguf-fixtures.ts';
import { runCli } from './run-cli.ts';

/** Bad GGUF input gets a ShrinkrayError naming the file and the tensor or key; nothing is written to --out. */
let work: string;
let good: Uint8Array;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shrinkray-gguf-bad-'));
  good = new Uint8Array(readFileSync(await writeKquantModel(join(work, 'kq'))));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const ascii = (s: string) => new TextEncoder().encode(s);

function indexOf(bytes: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error(`not found: ${new TextDecoder().decode(needle)}`);
}

/** A copy of the good file with the same-length string `from` replaced by `to`. */
function renamed(from: string, to: string): Uint8Array {
  const out = good.slice();
  out.set(ascii(to), indexOf(out, ascii(from)));
  return out;
}

/** Byte position of a field of a tensor's info: name, u32 n_dims, u64 dims[n], u32 type, u64 offset. */
function tensorInfoField(bytes: Uint8Array, name: string, field: 'type' | 'offset'): number {
  const at = indexOf(bytes, ascii(name)) + name.length;
  const nDims = new DataView(bytes.buffer).getUint32(at, true);
  return at + 4 + 8 * nDims + (field === 'type' ? 0 : 4);
}

const importBytes = (bytes: Uint8Array, name = 'bad.gguf') => importGguf(bytesSource(bytes, name));

describe('bad GGUF files', () => {
  it('an unknown tensor type names the file, the tensor and the type, and the CLI writes nothing', async () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(tensorInfoField(bad, 'blk.0.attn_q.weight', 'type'), 10, true); // Q2_K
    await expectShrinkrayError(
      importBytes(bad),
      'bad_file',
      /bad\.gguf: tensor 'blk\.0\.attn_q\.weight' is stored as Q2_K \(ggml type 10\).*supported: F32/,
    );

    const path = join(work, 'q2k.gguf');
    await writeFile(path, bad);
    const out = join(work, 'never');
    const { code, stderr } = await runCli(['import', path, '--out', out]);
    expect(code).toBe(1);
    expect(stderr).toContain('Q2_K');
    expect((await readdir(work)).filter((f) => f.startsWith('.never') || f === 'never')).toEqual([]);
  });

  it('a truncated file, or a tensor past the end, is named', async () => {
    await expectShrinkrayError(importBytes(good.subarray(0, 200)), 'bad_file', /bad\.gguf: .*truncated/);
    await expectShrinkrayError(
      importBytes(good.subarray(0, good.length - 100)),
      'bad_file',
      /tensor 'output\.weight' .*past the end of the file/,
    );
    const far = good.slice();
    new DataView(far.buffer).setBigUint64(tensorInfoField(far, 'blk.1.ffn_up.weight', 'offset'), 1n << 40n, true);
    await expectShrinkrayError(importBytes(far), 'bad_file', /tensor 'blk\.1\.ffn_up\.weight' .*past the end/);
    await expectShrinkrayError(importBytes(ascii('GGUF')), 'bad_file', /bad\.gguf: .*24-byte header/);
    await expectShrinkrayError(importBytes(renamed('GGUF', 'GGUG')), 'bad_file', /bad\.gguf: not a readable GGUF file: .*magic/);
  });

  it('another architecture is refused with the supported list; a missing key is named', async () => {
    await expectShrinkrayError(
      importBytes(renamed('llama', 'gemma')),
      'unsupported_architecture',
      /bad\.gguf: general\.architecture is "gemma"; Shrinkray imports GGUF files of these architectures: llama, qwen2, qwen3, gemma3$/,
    );
    // A known architecture reads its own keys: a llama file relabelled qwen2 lacks qwen2's.
    await expectShrinkrayError(importBytes(renamed('llama', 'qwen2')), 'bad_config', /'qwen2\.embedding_length' is missing/);
    await expectShrinkrayError(
      importBytes(renamed('llama.block_count', 'llama.block_kount')),
      'bad_config',
      /'llama\.block_count' is missing/,
    );
    await expectShrinkrayError(
      importBytes(renamed('blk.1.ffn_up.weight', 'blk.1.ffn_xx.weight')),
      'bad_file',
      /'blk\.1\.ffn_up\.weight' is missing/,
    );
  });

  it('tokenizers: other vocabulary types, a vocabulary smaller than the embedding, and missing scores are named', () => {
    const tokens = [
      '<unk>',
      '<s>',
      '</s>',
      ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
    ];
    const meta = { 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.scores': tokens.map(() => 0) };
    expect(convertGgufTokenizer(meta, 'm.gguf', 259, 64).tokenizerConfig).toMatchObject({ model_max_length: 64 });
    expectShrinkrayError(
      () => convertGgufTokenizer({ ...meta, 'tokenizer.ggml.model': 'bert' }, 'm.gguf', 259, 64),
      'bad_file',
      /m\.gguf: metadata key 'tokenizer\.ggml\.model' is "bert"; Shrinkray converts 'llama' \(SentencePiece\) and 'gpt2'/,
    );
    expectShrinkrayError(
      () => convertGgufTokenizer(meta, 'm.gguf', 300, 64),
      'bad_file',
      /'tokenizer\.ggml\.tokens' holds 259 tokens but token_embd\.weight has 300 rows/,
    );
    expectShrinkrayError(
      () => convertGgufTokenizer({ ...meta, 'tokenizer.ggml.scores': [] }, 'm.gguf', 259, 64),
      'bad_file',
      /'tokenizer\.ggml\.scores'/,
    );
    expectShrinkrayError(
      () => convertGgufTokenizer({ 'tokenizer.ggml.tokens': tokens }, 'm.gguf', 259, 64),
      'bad_file',
      /'tokenizer\.ggml\.model' is missing/,
    );
  });
});

describe('ggml dequantizers: hand-built blocks', () => {
  it('Q8_0 and Q4_0 scale signed codes; F16 and BF16 widen; sizes are checked', () => {
    const q8 = new Uint8Array(34);
    new DataView(q8.buffer).setUint16(0, floatToHalf(0.5), true);
    q8.set([1, 255, 127, 128], 2); // 1, -1, 127, -128
    expect(Array.from(dequantizeGgml('Q8_0', q8, 32, 't').subarray(0, 5))).toEqual([0.5, -0.5, 63.5, -64, 0]);
    const q4 = new Uint8Array(18);
    new DataView(q4.buffer).setUint16(0, floatToHalf(2), true);
    q4[2] = 0xf0; // element 0: 0 - 8, element 16: 15 - 8
    const w4 = dequantizeGgml('Q4_0', q4, 32, 't');
    expect([w4[0], w4[1], w4[16]]).toEqual([-16, -16, 14]);
    const h = new Uint8Array([0x00, 0x3c, 0x80, 0x3f]); // fp16 1.0; bf16 1.0
    expect(dequantizeGgml('F16', h.subarray(0, 2), 1, 't')[0]).toBe(1);
    expect(dequantizeGgml('BF16', h.subarray(2, 4), 1, 't')[0]).toBe(1);
    expectShrinkrayError(
      () => dequantizeGgml('Q4_K', new Uint8Array(144), 255, 'blk.0.x'),
      'bad_argument',
      /blk\.0\.x: 255 values are not a whole number of Q4_K blocks/,
    );
    expectShrinkrayError(() => dequantizeGgml('Q6_K', new Uint8Array(200), 256, 'blk.0.x'), 'bad_argument', /need 210 bytes, got 200/);
  });

  it('Q4_1, Q5_0, Q5_1: value j + 16 in the high nibble of byte j; the fifth bit of value k is bit k of the u32 qh', () => {
    const q41 = new Uint8Array(20);
    new DataView(q41.buffer).setUint16(0, floatToHalf(0.5), true); // d
    new DataView(q41.buffer).setUint16(2, floatToHalf(-1), true); // m
    q41[4] = 0x3a; // value 0: 10, value 16: 3
    const w41 = dequantizeGgml('Q4_1', q41, 32, 't');
    expect([w41[0], w41[16], w41[1]]).toEqual([4, 0.5, -1]);
    const q50 = new Uint8Array(22);
    new DataView(q50.buffer).setUint16(0, floatToHalf(2), true);
    new DataView(q50.buffer).setUint32(2, (1 << 1) | (1 << 17), true); // fifth bits of values 1 and 17
    q50[6 + 1] = 0x21; // value 1: 16 + 1, value 17: 16 + 2
    const w50 = dequantizeGgml('Q5_0', q50, 32, 't');
    expect([w50[0], w50[1], w50[17], w50[16]]).toEqual([-32, 2, 4, -32]);
    const q51 = new Uint8Array(24);
    new DataView(q51.buffer).setUint16(0, floatToHalf(1), true);
    new DataView(q51.buffer).setUint16(2, floatToHalf(0.25), true);
    new DataView(q51.buffer).setUint32(4, 1 << 31, true); // value 31's fifth bit
    q51[8 + 15] = 0xf0; // value 31: 15 + 16
    const w51 = dequantizeGgml('Q5_1', q51, 32, 't');
    expect([w51[31], w51[15], w51[0]]).toEqual([31.25, 0.25, 0.25]);
  });

  it('Q4_K: sub-block j >= 4 takes its 6-bit scale from the high bits of byte j-4 and the low nibble of byte j+4', () => {
    const b = new Uint8Array(144);
    const v = new DataView(b.buffer);
    v.setUint16(0, floatToHalf(1), true); // d
    v.setUint16(2, floatToHalf(0.5), true); // dmin
    b[4 + 0] = (1 << 6) | 3; // sub-block 0 scale 3; bits 4-5 of sub-block 4's scale = 1
    b[4 + 4] = 2; // sub-block 0 min 2
    b[4 + 8] = 0x05; // sub-block 4: scale low nibble 5 -> scale 16 + 5 = 21, min 0
    b[16 + 0] = 0x07; // value 0: code 7; value 32: code 0
    b[16 + 64] = 0x02; // chunk 2 (values 128..191), value 128: code 2
    const w = dequantizeGgml('Q4_K', b, 256, 't');
    expect(w[0]).toBe(1 * 3 * 7 - 0.5 * 2);
    expect(w[128]).toBe(21 * 2);
  });
});

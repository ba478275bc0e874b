import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesSource, type ByteSource } from '../../src/formats/byte-source.ts';
import { readLlama2cCheckpoint, readLlama2cTokenizer } from '../../src/formats/llama2c.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

const fixtures = process.env.SHRINKRAY_FIXTURES ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures');
const ckptPath = join(fixtures, 'stories260K', 'stories260K.bin');
const tokPath = join(fixtures, 'stories260K', 'tok512.bin');

function header(values: number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(values).buffer);
}

describe('llama2.c checkpoint reader', () => {
  it('reads the stories260K header and lays out every array', async () => {
    const { header: h, arrays } = await readLlama2cCheckpoint(await fileSource(ckptPath));
    expect(h).toEqual({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true });
    expect([...arrays.keys()]).toEqual([
      'token_embedding',
      'rms_att',
      'wq',
      'wk',
      'wv',
      'wo',
      'rms_ffn',
      'w1',
      'w2',
      'w3',
      'rms_final',
      'freq_cis_real',
      'freq_cis_imag',
    ]);
    expect(arrays.get('wk')!.shape).toEqual([5, 32, 64]);
    expect(arrays.get('w2')!.shape).toEqual([5, 64, 172]);
    expect(arrays.get('freq_cis_real')!.shape).toEqual([512, 4]);
  });

  it('reads arrays and per-layer slices from their byte offsets', async () => {
    const file = readFileSync(ckptPath);
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    const { arrays } = await readLlama2cCheckpoint(bytesSource(new Uint8Array(file.buffer, file.byteOffset, file.byteLength), 'ckpt'));
    // Independent offset arithmetic: header 28 bytes, then embedding 512*64, rms_att 5*64, wq 5*64*64.
    const wqStart = 28 + 4 * (512 * 64 + 5 * 64);
    const wq2 = await arrays.get('wq')!.readSlice(2);
    expect(wq2.length).toBe(64 * 64);
    expect(wq2[0]).toBe(view.getFloat32(wqStart + 4 * 2 * 64 * 64, true));
    expect(wq2[64 * 64 - 1]).toBe(view.getFloat32(wqStart + 4 * (3 * 64 * 64 - 1), true));
    // llama2.c stores RoPE tables for theta 10000: freq_cis_real[pos][i] = cos(pos * 10000^(-2i/headSize)).
    const real = await arrays.get('freq_cis_real')!.read();
    expect(real[3 * 4 + 1]).toBeCloseTo(Math.cos(3 * 10000 ** (-2 / 8)), 5);
    const final = await arrays.get('rms_final')!.read();
    expect(final[63]).toBe(view.getFloat32(file.byteLength - 4 * (2 * 512 * 4) - 4, true));
  });

  it('rejects a truncated checkpoint, naming the file and both sizes', async () => {
    const file = readFileSync(ckptPath);
    await expectShrinkrayError(
      async () => readLlama2cCheckpoint(bytesSource(file.subarray(0, 500_000), 'stories260K.bin')),
      'bad_file',
      /stories260K\.bin: .*truncated.*implies 1056540 bytes, but the file has 500000/,
    );
    await expectShrinkrayError(
      async () => readLlama2cCheckpoint(bytesSource(file.subarray(0, 10), 'short.bin')),
      'bad_file',
      /short\.bin.*10 bytes/,
    );
  });

  it('rejects extra bytes, garbage headers and the versioned format before allocating anything', async () => {
    const file = readFileSync(ckptPath);
    const longer = new Uint8Array(file.byteLength + 4);
    longer.set(file);
    await expectShrinkrayError(async () => readLlama2cCheckpoint(bytesSource(longer, 'long.bin')), 'bad_file', /long\.bin.*too long/);
    let reads = 0;
    const garbage = header([2 ** 30, 2 ** 30, 2 ** 30, 1, 1, 2 ** 30, 2 ** 30]);
    const counting: ByteSource = { name: 'garbage.bin', size: 1 << 30, read: (o, l) => (reads++, bytesSource(garbage, 'g').read(o, l)) };
    await expectShrinkrayError(async () => readLlama2cCheckpoint(counting), 'bad_file', /garbage\.bin.*dim = 1073741824 is out of range/);
    expect(reads).toBe(1);
    await expectShrinkrayError(
      async () => readLlama2cCheckpoint(bytesSource(header([64, 172, 5, 8, 3, 512, 512]), 'gqa.bin')),
      'bad_file',
      /n_heads 8 is not a multiple of n_kv_heads 3/,
    );
    await expectShrinkrayError(
      async () => readLlama2cCheckpoint(bytesSource(header([0x616b3432, 1, 0, 0, 0, 0, 0]), 'v1.bin')),
      'bad_file',
      /v1\.bin.*'ak42'.*legacy/,
    );
    // A wildly large but in-range header claims ~10^17 bytes: rejected by size, never read.
    await expectShrinkrayError(
      async () => readLlama2cCheckpoint(bytesSource(header([1 << 20, 1 << 20, 4096, 1, 1, 1 << 20, 1 << 20]), 'big.bin')),
      'bad_file',
      /big\.bin.*truncated/,
    );
  });

  it('reads an unshared classifier when vocab_size is negative', async () => {
    const [dim, hidden, layers, heads, kv, vocab, seq] = [8, 12, 2, 2, 1, 10, 4];
    const floats =
      vocab * dim +
      layers * (dim + 2 * dim * dim + 2 * ((kv * dim) / heads) * dim + dim + 3 * hidden * dim) +
      dim +
      (seq * dim) / heads +
      vocab * dim;
    const bytes = new Uint8Array(28 + 4 * floats);
    bytes.set(header([dim, hidden, layers, heads, kv, -vocab, seq]));
    const body = new Float32Array(bytes.buffer, 28);
    for (let i = 0; i < body.length; i++) body[i] = i;
    const { header: h, arrays } = await readLlama2cCheckpoint(bytesSource(bytes, 'unshared.bin'));
    expect(h.sharedClassifier).toBe(false);
    expect(h.vocabSize).toBe(10);
    const wcls = await arrays.get('wcls')!.read();
    expect(wcls.length).toBe(vocab * dim);
    expect(wcls[vocab * dim - 1]).toBe(floats - 1);
  });
});

describe('llama2.c tokenizer reader', () => {
  it('reads tok512.bin: 512 pieces with their scores', () => {
    const tok = readLlama2cTokenizer(readFileSync(tokPath), tokPath, 512);
    expect(tok.maxTokenLength).toBe(7);
    expect(tok.pieces.slice(0, 4)).toEqual(['<unk>', '\n<s>\n', '\n</s>\n', '<0x00>']);
    expect(tok.pieces[258]).toBe('<0xFF>');
    expect(tok.pieces[265]).toBe(' the');
    expect(tok.pieces[465]).toBe('\u201c');
    expect(tok.scores[260]).toBe(-1);
    expect(tok.scores[511]).toBe(-252);
  });

  it('rejects a truncated tokenizer and a vocabulary size mismatch', () => {
    const bytes = readFileSync(tokPath);
    expect(() => readLlama2cTokenizer(bytes.subarray(0, 3000), 'cut.bin', 512)).toThrow(/cut\.bin: .*(truncated|token \d+ has length)/);
    expect(() => readLlama2cTokenizer(bytes, 'tok.bin', 600)).toThrow(
      /tok\.bin: .*holds 512 tokens but the checkpoint's vocabulary has 600/,
    );
    expect(() => readLlama2cTokenizer(new Uint8Array(Int32Array.from([7, 0, 1 << 30]).buffer), 'bad.bin')).toThrow(
      /bad\.bin: .*token 0 has length 1073741824/,
    );
  });
});

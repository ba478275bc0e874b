import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blobSource, bytesSource, type ByteSource } from '../../src/formats/byte-source.ts';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from '../../src/kernels/half.ts';
import { readSafetensors, writeSafetensors } from '../../src/formats/safetensors.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { concatBytes } from '../concat-bytes.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/** A source that records every read, to prove the reader only fetches what it needs. */
function countingSource(bytes: Uint8Array, name = 'model.safetensors'): ByteSource & { reads: [number, number][] } {
  const inner = bytesSource(bytes, name);
  const reads: [number, number][] = [];
  return { name, size: inner.size, reads, read: (o, l) => (reads.push([o, l]), inner.read(o, l)) };
}

/** A file: header length (u64) + header text + data bytes. */
function rawFile(header: string | object, dataBytes: number, lengthOverride?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  const view = new DataView(out.buffer);
  const len = lengthOverride ?? json.byteLength;
  view.setUint32(0, len % 2 ** 32, true);
  view.setUint32(4, Math.floor(len / 2 ** 32), true);
  out.set(json, 8);
  return out;
}

describe('fp16 and bf16 conversion', () => {
  it('narrows with round-to-nearest-even and known bit patterns', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65520, 0x7c00],
      [1e6, 0x7c00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [3 * 2 ** -26, 0x0001],
      [2 ** -14, 0x0400],
      [Infinity, 0x7c00],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [0.1, 0x2e66],
      [-65519, 0xfbff],
    ];
    for (const [value, bits] of cases) expect(floatToHalf(value), `fp16 of ${value}`).toBe(bits);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
    // Every fp16 value survives fp16 -> fp32 -> fp16.
    const broken: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaNs
      if (floatToHalf(halfToFloat(h)) !== h) broken.push(h);
    }
    expect(broken).toEqual([]);
  });

  it('narrows to bf16 with round-to-nearest-even', () => {
    expect(floatToBf16(1)).toBe(0x3f80);
    expect(floatToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie, to even
    expect(floatToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, to even (up)
    expect(floatToBf16(-3.140625)).toBe(0xc049);
    expect(bf16ToFloat(0x3f80)).toBe(1);
    expect(Number.isNaN(bf16ToFloat(floatToBf16(NaN)))).toBe(true);
  });
});

describe('safetensors writer and reader', () => {
  const a = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1); // [2, 3]
  const half = Float32Array.from([0.5, -2, 65504, 1 / 3]); // 1/3 is not exact in fp16
  const bf = Float32Array.from([1, -3.140625, 1e30, 1 / 3]);

  it('round-trips F32, F16, BF16 and integer tensors, widening to fp32', async () => {
    const parts = writeSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [2, 3], data: a },
        { name: 'h', dtype: 'F16', shape: [4], data: half },
        { name: 'b', dtype: 'BF16', shape: [2, 2], data: bf },
        { name: 'i', dtype: 'I32', shape: [3], data: Int32Array.from([-7, 0, 123456]) },
        { name: 'u', dtype: 'U8', shape: [2], data: Uint8Array.from([0, 255]) },
        { name: 'e', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      ],
      { format: 'pt' },
    );
    const file = concatBytes(parts);
    const headerLen = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0); // data region 8-byte aligned
    expect(new TextDecoder().decode(file.subarray(8, 8 + headerLen))).toMatch(/} *$/); // padded with spaces

    const st = await readSafetensors(bytesSource(file, 'rt.safetensors'));
    expect(st.metadata).toEqual({ format: 'pt' });
    expect([...st.tensors.keys()]).toEqual(['a', 'h', 'b', 'i', 'u', 'e']);
    expect(st.tensors.get('a')!.shape).toEqual([2, 3]);
    expect(await st.tensors.get('a')!.read()).toEqual(a);
    const h = await st.tensors.get('h')!.read();
    expect(Array.from(h.subarray(0, 3))).toEqual([0.5, -2, 65504]);
    expect(h[3]).toBe(0.333251953125); // nearest fp16 to 1/3
    const b = await st.tensors.get('b')!.read();
    expect(b[0]).toBe(1);
    expect(b[1]).toBe(-3.140625);
    expect(Math.abs(b[2]! / 1e30 - 1)).toBeLessThan(2 ** -8);
    expect(b[3]).toBe(0.333984375); // nearest bf16 to 1/3
    expect(Array.from(await st.tensors.get('i')!.read())).toEqual([-7, 0, 123456]);
    expect(Array.from(await st.tensors.get('u')!.read())).toEqual([0, 255]);
    expect((await st.tensors.get('e')!.read()).length).toBe(0);
    expect(st.tensors.get('h')!.byteLength).toBe(8);
  });

  it('reads the header with two reads and each tensor with exactly its own byte range', async () => {
    const big = new Float32Array(10_000).fill(1);
    const file = concatBytes(
      writeSafetensors([
        { name: 'big', dtype: 'F32', shape: [100, 100], data: big },
        { name: 'small', dtype: 'F16', shape: [4], data: half },
      ]),
    );
    const src = countingSource(file);
    const st = await readSafetensors(src);
    expect(src.reads.length).toBe(2);
    expect(src.reads[0]).toEqual([0, 8]);
    const small = st.tensors.get('small')!;
    await small.read();
    expect(src.reads.length).toBe(3);
    expect(src.reads[2]).toEqual([st.dataStart + 40_000, 8]);
    expect(src.reads.reduce((n, [, l]) => n + l, 0)).toBeLessThan(file.byteLength / 10);
  });

  it('works over a Blob, and a read past its end names the file', async () => {
    const file = concatBytes(writeSafetensors([{ name: 'a', dtype: 'F32', shape: [2, 3], data: a }]));
    const src = blobSource(new Blob([file]), 'blob.safetensors');
    expect(await (await readSafetensors(src)).tensors.get('a')!.read()).toEqual(a);
    await expectShrinkrayError(src.read(file.byteLength - 4, 8), 'bad_file', /blob\.safetensors: truncated/);
  });
});

describe('fileSource', () => {
  it('reads ranges of a file on disk and names it when a read runs past the end or it is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shrinkray-src-'));
    try {
      const path = join(dir, 'w.safetensors');
      const a = Float32Array.from([1, 2, 3, 4]);
      await writeFile(path, concatBytes(writeSafetensors([{ name: 'a', dtype: 'F32', shape: [2, 2], data: a }])));
      const src = await fileSource(path);
      expect(await (await readSafetensors(src)).tensors.get('a')!.read()).toEqual(a);
      await expectShrinkrayError(src.read(src.size - 2, 4), 'bad_file', /w\.safetensors: truncated/);
      await expectShrinkrayError(fileSource(join(dir, 'absent.safetensors')), 'missing_file', /absent\.safetensors: no such file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('safetensors bad input', () => {
  const entry = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

  it('rejects a file shorter than the length field', async () => {
    await expectShrinkrayError(
      readSafetensors(bytesSource(new Uint8Array(5), 'tiny.safetensors')),
      'bad_file',
      /tiny\.safetensors.*5 bytes/,
    );
  });

  it('rejects a header length past the end of the file', async () => {
    await expectShrinkrayError(
      readSafetensors(bytesSource(rawFile({ a: entry }, 8, 5000), 'x.safetensors')),
      'bad_file',
      /x\.safetensors.*header length 5000 does not fit/,
    );
  });

  it('rejects a huge header length without reading or allocating it', async () => {
    const src = countingSource(rawFile({ a: entry }, 8, 2 ** 50), 'huge.safetensors');
    await expectShrinkrayError(readSafetensors(src), 'bad_file', /huge\.safetensors.*header length 1125899906842624/);
    expect(src.reads).toEqual([[0, 8]]);
  });

  it('rejects a header that is not JSON', async () => {
    await expectShrinkrayError(
      readSafetensors(bytesSource(rawFile('{"a": [1, 2', 8), 'nojson.safetensors')),
      'bad_file',
      /nojson\.safetensors.*not JSON/,
    );
  });

  it('rejects offsets past the end of the data (a truncated file)', async () => {
    const file = rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8);
    await expectShrinkrayError(readSafetensors(bytesSource(file, 'cut.safetensors')), 'bad_file', /cut\.safetensors.*'a'.*past the end/);
  });

  it('rejects shape and offsets that disagree, unknown dtypes, and overlaps', async () => {
    await expectShrinkrayError(
      readSafetensors(bytesSource(rawFile({ a: { ...entry, shape: [3] } }, 16), 's.safetensors')),
      'bad_file',
      /'a' \(F32 \[3\]\) needs 12 bytes but its data_offsets span 8/,
    );
    await expectShrinkrayError(
      readSafetensors(bytesSource(rawFile({ a: { ...entry, dtype: 'F64' } }, 8), 'd.safetensors')),
      'bad_file',
      /'a' has unsupported dtype "F64"/,
    );
    await expectShrinkrayError(
      readSafetensors(bytesSource(rawFile({ a: entry, b: { ...entry, data_offsets: [4, 12] } }, 16), 'o.safetensors')),
      'bad_file',
      /'a' and 'b' overlap/,
    );
    await expectShrinkrayError(
      readSafetensors(bytesSource(rawFile({ a: { ...entry, data_offsets: [8, 0] } }, 8), 'n.safetensors')),
      'bad_file',
      /invalid data_offsets/,
    );
    await expectShrinkrayError(readSafetensors(bytesSource(rawFile([1, 2], 8), 'arr.safetensors')), 'bad_file', /not a JSON object/);
  });

  it('accepts a header padded with NULs instead of spaces', async () => {
    const file = rawFile(JSON.stringify({ a: entry }) + '\0\0\0', 8);
    expect((await readSafetensors(bytesSource(file, 'nul.safetensors'))).tensors.get('a')!.shape).toEqual([2]);
  });

  it('refuses to write data that does not match the shape', () => {
    expect(() => writeSafetensors([{ name: 'a', dtype: 'F32', shape: [3], data: new Float32Array(2) }])).toThrow(
      /'a' \(F32 \[3\]\) needs 12 bytes, got 8/,
    );
  });
});

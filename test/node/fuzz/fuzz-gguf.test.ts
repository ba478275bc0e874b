import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../../src/formats/byte-source.ts';
import { readGguf } from '../../../src/formats/gguf.ts';
import { craftGguf, kvString, kvU32, kvU64, type CraftedTensor } from '../../gguf/crafted-gguf.ts';
import { fuzz, mutatedBytes } from './fuzz-budget.ts';

/**
 * The GGUF tensor table, fuzzed (issue 21): offsets, alignments, types and shapes drawn,
 * the data section filled with finite values. Parsing ends in a ShrinkrayError, or in tensors
 * that lie inside the data section, at offsets that are multiples of the alignment, apart
 * from each other, and that read back as finite numbers: never a crash, a hang or NaN weights.
 */
const dim = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom(0, 32, 256, 2 ** 32, 2 ** 53));
const tensor = fc.record({
  type: fc.oneof(fc.constantFrom(0, 1, 8, 2, 30), fc.nat()), // F32, F16, Q8_0, Q4_0, BF16, or anything
  ne: fc.array(dim, { minLength: 0, maxLength: 5 }),
  offset: fc.oneof(
    fc.nat({ max: 16 }).map((k) => k * 32),
    fc.nat({ max: 1024 }),
    fc.constantFrom(2n ** 32n, 2n ** 53n + 32n, 2n ** 63n, 2n ** 64n - 32n),
  ),
});
const alignment = fc.option(fc.oneof(fc.constantFrom(8, 16, 32, 64, 128), fc.constantFrom(0, 1, 3, 4, 48, 2 ** 31, 2 ** 32), fc.nat()), {
  freq: 3,
});
const table: fc.Arbitrary<Table> = fc.record({
  tensors: fc.array(tensor, { minLength: 1, maxLength: 4 }),
  alignment,
  wide: fc.boolean(), // alignment written as u64
  dataBytes: fc.nat({ max: 2048 }),
});

/** The data section: f32 1.0 repeated, whose bytes are finite read as f32, f16, bf16 and ggml blocks alike. */
function finiteData(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = [0x00, 0x00, 0x80, 0x3f][i % 4]!;
  return out;
}

type Table = { tensors: Omit<CraftedTensor, 'name'>[]; alignment: number | null; wide: boolean; dataBytes: number };

function craft(t: Table): { bytes: Uint8Array; dataStart: number; align: number } {
  const kvs = [kvString('general.architecture', 'llama')];
  if (t.alignment !== null) kvs.push(t.wide ? kvU64('general.alignment', t.alignment) : kvU32('general.alignment', t.alignment % 2 ** 32));
  const tensors: CraftedTensor[] = t.tensors.map((x, i) => ({ ...x, name: `t${i}.weight` }));
  const align = t.alignment ?? 32;
  const pad = align >= 8 && align <= 4096 && (align & (align - 1)) === 0 ? align : 32;
  const bytes = craftGguf({ kvs, tensors, data: finiteData(t.dataBytes), pad });
  return { bytes, dataStart: bytes.byteLength - t.dataBytes, align };
}

async function checkedRead(bytes: Uint8Array, dataStart: number, align: number): Promise<void> {
  const file = await readGguf(bytesSource(bytes, 'fuzz.gguf'));
  const spans = [...file.tensors.values()].map((t) => [t.fileOffset, t.fileOffset + t.byteLength] as const).sort((a, b) => a[0] - b[0]);
  for (const [i, [start, end]] of spans.entries()) {
    expect(start).toBeGreaterThanOrEqual(dataStart);
    expect(end).toBeLessThanOrEqual(bytes.byteLength);
    expect((start - dataStart) % align).toBe(0);
    if (i > 0) expect(start).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  }
  for (const t of file.tensors.values()) {
    const values = await t.read();
    expect(values.every(Number.isFinite)).toBe(true);
  }
}

describe('GGUF tensor table, fuzzed', () => {
  it('drawn offsets, alignments, types and shapes: tensors inside the data, aligned, apart and finite, or a ShrinkrayError', async () => {
    await fuzz(
      table,
      1500,
      (t) => {
        const { bytes, dataStart, align } = craft(t);
        return checkedRead(bytes, dataStart, align);
      },
      {
        examples: [
          { tensors: [{ type: 0, ne: [8], offset: 0 }], alignment: null, wide: false, dataBytes: 32 },
          { tensors: [{ type: 0, ne: [8], offset: 0 }], alignment: 2 ** 32, wide: true, dataBytes: 32 },
          { tensors: [{ type: 0, ne: [8], offset: 0 }], alignment: 3, wide: false, dataBytes: 32 },
          {
            tensors: [
              { type: 0, ne: [8], offset: 0 },
              { type: 0, ne: [8], offset: 0 },
            ],
            alignment: null,
            wide: false,
            dataBytes: 64,
          },
        ],
      },
    );
  });

  it('byte mutations of a valid two-tensor file', async () => {
    const { bytes } = craft({
      tensors: [
        { type: 0, ne: [8, 2], offset: 0 },
        { type: 1, ne: [16], offset: 64 },
      ],
      alignment: 32,
      wide: false,
      dataBytes: 96,
    });
    // A mutation may land in the data (an Inf there is the data's, caught by the engine's logit check): every tensor must read whole.
    await fuzz(mutatedBytes(bytes, 6), 1500, async (b) => {
      const file = await readGguf(bytesSource(b, 'fuzz.gguf'));
      for (const t of file.tensors.values()) expect((await t.read()).length).toBe(t.shape.reduce((x, y) => x * y, 1));
    });
  });
});

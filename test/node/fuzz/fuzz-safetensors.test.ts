import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesSource, type ByteSource } from '../../../src/formats/byte-source.ts';
import { DTYPE_BYTES, readSafetensors, writeSafetensors } from '../../../src/formats/safetensors.ts';
import { openHfWeights } from '../../../src/model/hf-model.ts';
import { concatBytes } from '../../concat-bytes.ts';
import { fuzz, mutatedBytes } from './fuzz-budget.ts';

/**
 * safetensors and the shard index, fuzzed: any bytes, headers built from arbitrary JSON
 * (dtypes, shapes, offsets, names), and mutations of valid files end in a parsed file whose
 * tensors all read back, or a ShrinkrayError, within FUZZ_BUDGET.
 */
const enc = new TextEncoder();

/** A safetensors file with `header` as its JSON and `data` after it; `declared` overrides the length field. */
function withHeader(header: string, data: Uint8Array, declared?: number): Uint8Array {
  const json = enc.encode(header);
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  const view = new DataView(out.buffer);
  const n = declared ?? json.byteLength;
  view.setUint32(0, n % 2 ** 32, true);
  view.setUint32(4, Math.floor(n / 2 ** 32) % 2 ** 32, true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

/** Parses, then reads every tensor: a header that lies about its ranges must fail at parse time, not at read. */
async function readAll(src: ByteSource): Promise<void> {
  const st = await readSafetensors(src);
  for (const t of st.tensors.values()) {
    const values = await t.read();
    expect(values.length).toBe(t.shape.reduce((a, b) => a * b, 1));
  }
}

const dtype = fc.oneof(fc.constantFrom(...Object.keys(DTYPE_BYTES)), fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }));
const count = fc.oneof(fc.nat({ max: 64 }), fc.integer(), fc.constantFrom(2 ** 53, 2 ** 64, -1, 1.5, 1e300), fc.jsonValue({ maxDepth: 0 }));
const entry = fc.record(
  {
    dtype,
    shape: fc.oneof(fc.array(count, { maxLength: 4 }), fc.jsonValue({ maxDepth: 1 })),
    data_offsets: fc.oneof(fc.tuple(count, count), fc.array(count, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
  },
  { requiredKeys: [] },
);
const name = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__metadata__', 'w', 'model.norm.weight', ''));
const header = fc.oneof(
  fc.dictionary(name, fc.oneof(entry, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 6 }).map((h) => JSON.stringify(h)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  // Duplicate keys, which JSON.stringify cannot write.
  fc
    .tuple(name, entry, entry)
    .map(([k, a, b]) => `{${JSON.stringify(k)}: ${JSON.stringify(a)}, ${JSON.stringify(k)}: ${JSON.stringify(b)}}`),
);

describe('safetensors reader, fuzzed', () => {
  it('any bytes', async () => {
    await fuzz<Uint8Array>(fc.uint8Array({ maxLength: 512 }), 3000, (bytes) => readAll(bytesSource(bytes, 'fuzz.safetensors')), {
      examples: [new Uint8Array(0), new Uint8Array(8), withHeader('{}', new Uint8Array(0))],
    });
  });

  it('headers from arbitrary JSON, with data of any size and any declared length', async () => {
    const input = fc.tuple(
      header,
      fc.uint8Array({ maxLength: 256 }),
      fc.option(fc.oneof(fc.nat(), fc.constantFrom(2 ** 53, 2 ** 64 - 1, 100 * 2 ** 20 + 1)), { freq: 5 }),
    );
    await fuzz(input, 3000, ([h, data, declared]) => readAll(bytesSource(withHeader(h, data, declared ?? undefined), 'fuzz.safetensors')), {
      examples: [
        // Fixed cases: a nested object's key equal to a top-level one is no duplicate; a top-level key twice is.
        ['{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "__metadata__": {"a": "b"}}', new Uint8Array(4), null],
        [
          '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}',
          new Uint8Array(4),
          null,
        ],
      ],
    });
  });

  it('mutations of a valid file', async () => {
    const valid = concatBytes(
      writeSafetensors(
        [
          { name: 'a', dtype: 'F32', shape: [2, 3], data: new Float32Array(6).fill(1.5) },
          { name: 'b', dtype: 'F16', shape: [4], data: new Float32Array(4).fill(-2) },
          { name: 'c', dtype: 'I64', shape: [2], data: new BigInt64Array([1n, -1n]) },
          { name: 'd', dtype: 'BF16', shape: [0], data: new Float32Array(0) },
        ],
        { format: 'pt' },
      ),
    );
    await fuzz(mutatedBytes(valid, 6), 3000, (bytes) => readAll(bytesSource(bytes, 'fuzz.safetensors')), { examples: [valid] });
  });
});

describe('shard index, fuzzed', () => {
  const shard = (names: string[]) =>
    concatBytes(writeSafetensors(names.map((n) => ({ name: n, dtype: 'F32', shape: [2], data: new Float32Array(2) }))));
  const files = new Map<string, Uint8Array>([
    ['model-00001-of-00002.safetensors', shard(['a', 'b'])],
    ['model-00002-of-00002.safetensors', shard(['c'])],
    ['other.safetensors', shard(['a'])],
  ]);
  const shardName = fc.oneof(
    fc.constantFrom(
      ...files.keys(),
      'missing.safetensors',
      '../model-00001-of-00002.safetensors',
      '/abs.safetensors',
      '.x.safetensors',
      'a/b.safetensors',
    ),
    fc.jsonValue({ maxDepth: 0 }),
    fc.string({ maxLength: 10 }),
  );
  const index = fc
    .oneof(
      fc.record({ weight_map: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', ''), shardName, { maxKeys: 5 }) }, { requiredKeys: [] }),
      fc.record({ weight_map: fc.jsonValue({ maxDepth: 2 }), metadata: fc.jsonValue({ maxDepth: 1 }) }),
      fc.jsonValue({ maxDepth: 2 }),
    )
    .map((v) => enc.encode(JSON.stringify(v)));

  it('any weight_map over present, missing, clashing and escaping shards', async () => {
    await fuzz(
      index,
      2000,
      (indexBytes) =>
        openHfWeights(async (path) => {
          if (path === 'model.safetensors.index.json') return bytesSource(indexBytes, path);
          const f = files.get(path);
          return f && bytesSource(f, path);
        }),
      {
        examples: [
          enc.encode(
            JSON.stringify({
              weight_map: {
                a: 'model-00001-of-00002.safetensors',
                b: 'model-00001-of-00002.safetensors',
                c: 'model-00002-of-00002.safetensors',
              },
            }),
          ),
        ],
      },
    );
  });
});

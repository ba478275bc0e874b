import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readGguf } from '../../src/formats/gguf.ts';
import { concatBytes } from '../concat-bytes.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import {
  craftGguf,
  f32Bytes,
  ggufArray,
  ggufKv,
  ggufString,
  GGUF_TYPE,
  kvString,
  kvU32,
  kvU64,
  type CraftedTensor,
} from '../gguf/crafted-gguf.ts';
import { runCli } from './run-cli.ts';

/**
 * Issue 21, items 7 and 8, through the CLI: a GGUF header's alignment, tensor offsets and
 * metadata sizes are checked by our own parser (src/formats/gguf-header.ts), so a file that
 * lies about them is refused naming the file and the key or tensor, instead of being read
 * from the wrong bytes (NaN weights, "ppl": null) or parsed in quadratic time.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-gguf-header-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const arch = kvString('general.architecture', 'llama');
const two = (offsetB: number): CraftedTensor[] => [
  { name: 'a.weight', type: 0, ne: [8], offset: 0 },
  { name: 'b.weight', type: 0, ne: [8], offset: offsetB },
];
const values = f32Bytes(Array.from({ length: 24 }, (_, i) => i + 1));

/** `shrinkray import` of `bytes`: exit 1 with a one-line error matching `message`, and nothing written. */
async function refusedByImport(bytes: Uint8Array, message: RegExp): Promise<void> {
  const file = join(work, 'hostile.gguf');
  writeFileSync(file, bytes);
  const out = join(work, 'never');
  const r = await runCli(['import', file, '--out', out]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(existsSync(out)).toBe(false);
}

describe('GGUF alignment and tensor offsets', () => {
  it('general.alignment that is not a power of two, multiple of 8, is refused (2^32 put the data at 0; 3 gave NaN weights)', async () => {
    for (const [kv, shown] of [
      [kvU32('general.alignment', 3), '3'],
      [kvU64('general.alignment', 2 ** 32), '4294967296'],
      [kvU32('general.alignment', 0), '0'],
      [kvU32('general.alignment', 4), '4'],
      [kvU32('general.alignment', 48), '48'],
      [kvString('general.alignment', '32'), '32'],
    ] as const) {
      const bytes = craftGguf({ kvs: [arch, kv], tensors: two(32), data: values });
      await refusedByImport(
        bytes,
        new RegExp(
          `hostile\\.gguf: not a readable GGUF file: general\\.alignment is ${shown}; GGUF asks for a power of two that is a multiple of 8`,
        ),
      );
    }
  });

  it('a misaligned, an overlapping or an out-of-file tensor is refused naming it', async () => {
    await refusedByImport(
      craftGguf({ kvs: [arch], tensors: two(4), data: values }),
      /hostile\.gguf: not a readable GGUF file: tensor 'b\.weight' starts at data offset 4, not a multiple of the alignment 32/,
    );
    await refusedByImport(
      craftGguf({ kvs: [arch], tensors: two(0), data: values }),
      /hostile\.gguf: not a readable GGUF file: tensors 'a\.weight' and 'b\.weight' overlap/,
    );
    await refusedByImport(
      craftGguf({ kvs: [arch, kvU32('general.alignment', 64)], tensors: two(128), data: values, pad: 64 }),
      /tensor 'b\.weight' \(F32, 32 bytes\) lies at bytes \d+\.\.\d+, past the end of the file/,
    );
  });

  it('a well-formed table with its own alignment reads back the values written at its offsets', async () => {
    const data = concatBytes([f32Bytes([1, 2, 3, 4, 5, 6, 7, 8]), new Uint8Array(32), f32Bytes([9, 10, 11, 12, 13, 14, 15, 16])]);
    const file = await readGguf(
      bytesSource(craftGguf({ kvs: [arch, kvU32('general.alignment', 64)], tensors: two(64), data, pad: 64 }), 'ok.gguf'),
    );
    expect([...(await file.tensors.get('a.weight')!.read())]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...(await file.tensors.get('b.weight')!.read())]).toEqual([9, 10, 11, 12, 13, 14, 15, 16]);
  });
});

describe('GGUF metadata bounds', () => {
  it('a 49 MB nested metadata array is refused at the element bound, at once (it took 85 s and 1.2 GB)', async () => {
    const inner = ggufArray(GGUF_TYPE.u8, 1_000_000, new Uint8Array(1_000_000)); // each under @huggingface/gguf's per-array bound
    const outer = ggufArray(GGUF_TYPE.array, 49, concatBytes(Array.from({ length: 49 }, () => inner)));
    await refusedByImport(
      craftGguf({ kvs: [arch, ggufKv('junk.nested', GGUF_TYPE.array, outer)], tensors: two(32), data: values }),
      /hostile\.gguf: not a readable GGUF file: metadata key 'junk\.nested' brings the metadata's array elements past 8388608/,
    );
  });

  it('arrays nested three deep, a key twice, and a string longer than the file are refused', async () => {
    const deep = ggufArray(GGUF_TYPE.array, 1, ggufArray(GGUF_TYPE.array, 1, ggufArray(GGUF_TYPE.u8, 1, new Uint8Array(1))));
    await refusedByImport(
      craftGguf({ kvs: [arch, ggufKv('junk.deep', GGUF_TYPE.array, deep)], tensors: two(32), data: values }),
      /metadata key 'junk\.deep' nests arrays deeper than 2 levels/,
    );
    await refusedByImport(
      craftGguf({ kvs: [arch, arch], tensors: two(32), data: values }),
      /metadata key 'general\.architecture' appears twice/,
    );
    const long = concatBytes([
      ggufString('general.name'),
      new Uint8Array([GGUF_TYPE.string, 0, 0, 0]),
      new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]),
    ]);
    await refusedByImport(
      craftGguf({ kvs: [arch, long], tensors: two(32), data: values }),
      /metadata key 'general\.name' is a string of 4294967296 bytes; at most 16777216 are read/,
    );
  });

  it('a vocabulary-sized array of a million strings still parses', async () => {
    const n = 1_000_000;
    const pieces = Array.from({ length: 1000 }, (_, i) => ggufString(`t${i}`));
    const tokens = ggufArray(GGUF_TYPE.string, n, concatBytes(Array.from({ length: n }, (_, i) => pieces[i % 1000]!)));
    const file = await readGguf(
      bytesSource(
        craftGguf({ kvs: [arch, ggufKv('tokenizer.ggml.tokens', GGUF_TYPE.array, tokens)], tensors: two(32), data: values }),
        'v.gguf',
      ),
    );
    expect((file.metadata['tokenizer.ggml.tokens'] as string[]).length).toBe(n);
    await expectShrinkrayError(
      readGguf(bytesSource(new Uint8Array(30).fill(7), 'x.gguf')),
      'bad_file',
      /x\.gguf: not a readable GGUF file: it does not start with the magic "GGUF"/,
    );
  });
});

import fc from 'fast-check';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ByteSource } from '../../../src/formats/byte-source.ts';
import { readLlama2cCheckpoint, readLlama2cTokenizer } from '../../../src/formats/llama2c.ts';
import { convertLlama2cTokenizer } from '../../../src/formats/tokenizer-llama2c.ts';
import { importLlama2c } from '../../../src/model/import-llama2c.ts';
import { FIXTURES } from '../fixture-paths.ts';
import { fuzz, mutatedBytes } from './fuzz-budget.ts';

/**
 * llama2.c checkpoints and tokenizers, fuzzed: any header (seven int32s, any file size, the
 * file never held in memory: a source of that size reads zeros), any bytes as a tokenizer,
 * and mutations of the real tok512.bin. Each ends in lazy handles (or a converted
 * tokenizer) or a ShrinkrayError within FUZZ_BUDGET; nothing is allocated from a header.
 */
const TOK = new Uint8Array(readFileSync(join(FIXTURES, 'stories260K', 'tok512.bin')));

/** A checkpoint of `size` bytes whose first 28 are `header` and the rest zeros, without holding them. */
function virtualCheckpoint(header: number[], size: number): ByteSource {
  const head = new Uint8Array(28);
  const view = new DataView(head.buffer);
  header.forEach((v, i) => view.setInt32(4 * i, v, true));
  return {
    name: 'fuzz.bin',
    size,
    async read(offset, length) {
      if (length > 1 << 20) throw new Error(`a read of ${length} bytes: the reader allocated from the header`);
      const out = new Uint8Array(length);
      for (let i = 0; i < length && offset + i < 28; i++) out[i] = head[offset + i]!;
      return out;
    },
  };
}

const int32 = fc.oneof(
  fc.integer({ min: -4, max: 600 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.constantFrom(64, 172, 5, 8, 4, 512, -512, 4096, 1 << 20),
);

describe('llama2.c checkpoint, fuzzed', () => {
  it('any header and any file size: lazy handles or a ShrinkrayError, no allocation from the header', async () => {
    const stories = [64, 172, 5, 8, 4, 512, 512];
    const exact = statSync(join(FIXTURES, 'stories260K', 'stories260K.bin')).size; // what the stories header implies
    const input: fc.Arbitrary<[number[], number]> = fc.tuple(
      fc.array(int32, { minLength: 7, maxLength: 7 }),
      fc.oneof(fc.nat({ max: 2 ** 40 }), fc.constantFrom(0, 27, 28, exact)),
    );
    await fuzz(
      input,
      3000,
      async ([header, size]) => {
        const ckpt = await readLlama2cCheckpoint(virtualCheckpoint(header, size));
        for (const a of ckpt.arrays.values()) expect(a.fileOffset).toBeLessThanOrEqual(size);
      },
      {
        examples: [
          [stories, exact],
          [[64, 172, 5, 8, 4, -512, 512], exact],
        ],
      },
    );
  });

  it('a whole import with the real tokenizer: checked config or a ShrinkrayError', async () => {
    const input = fc.tuple(fc.array(int32, { minLength: 7, maxLength: 7 }), fc.nat({ max: 2 ** 36 }));
    await fuzz(input, 1000, ([header, size]) => importLlama2c(virtualCheckpoint(header, size), { bytes: TOK, name: 'tok512.bin' }), {
      expectBoth: false,
    });
  });
});

describe('llama2.c tokenizer, fuzzed', () => {
  const readAndConvert = (bytes: Uint8Array, vocab?: number) => {
    const tok = readLlama2cTokenizer(bytes, 'fuzz-tok.bin', vocab);
    convertLlama2cTokenizer(tok, 'fuzz-tok.bin', 512);
  };

  it('any bytes', async () => {
    await fuzz(
      fc.tuple(fc.uint8Array({ maxLength: 256 }), fc.option(fc.nat({ max: 600 }), { nil: undefined })),
      3000,
      ([bytes, vocab]) => readAndConvert(bytes, vocab),
      { expectBoth: false },
    );
  });

  it('mutations of tok512.bin', async () => {
    await fuzz(
      fc.tuple(mutatedBytes(TOK, 4), fc.constantFrom(undefined, 512, 511)),
      300,
      ([bytes, vocab]) => readAndConvert(bytes, vocab),
      {
        examples: [[TOK, 512]],
      },
    );
  });
});

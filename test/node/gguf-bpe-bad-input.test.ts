import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertGgufTokenizer } from '../../src/formats/tokenizer-gguf.ts';
import { GGUF_PRE_TOKENIZERS } from '../../src/formats/tokenizer-gguf-pre.ts';
import { importGguf } from '../../src/model/import-gguf.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { writeBpeModel } from '../gguf/gguf-fixtures.ts';
import { realTokenizer } from '../real-tokenizers.ts';

/**
 * GGUF 'gpt2' vocabularies: what each supported tokenizer.ggml.pre does to the same text (a
 * tiny byte-level vocabulary whose one merge joins '1' and '2': the split regex decides whether
 * the merge can apply), and bad input refused naming the file and the key.
 */

/** GPT-2's byte-to-character map, written out here independently of the converter. */
const BYTE_CHARS = Array.from({ length: 256 }, (_, b) => b).map((b, _, all) => {
  const printable = (x: number) => (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255);
  return printable(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + all.filter((x) => x < b && !printable(x)).length);
});
const TOKENS = [...BYTE_CHARS, '12', '<|end|>'];
const TYPES = [...BYTE_CHARS.map(() => 1), 1, 3];
const META = {
  'tokenizer.ggml.model': 'gpt2',
  'tokenizer.ggml.pre': 'gpt-2',
  'tokenizer.ggml.tokens': TOKENS,
  'tokenizer.ggml.token_type': TYPES,
  'tokenizer.ggml.merges': ['1 2'],
  'tokenizer.ggml.eos_token_id': TOKENS.length - 1,
};
const N = TOKENS.length;

function convert(meta: Record<string, unknown>, rows = N) {
  return convertGgufTokenizer(meta as typeof META, 'm.gguf', rows, 64);
}

describe('tokenizer.ggml.pre decides the split', () => {
  // llama-bpe keeps up to 3 digits together, gpt-2/default/smollm... : the merge '1 2' applies only where "12" stays one piece.
  const expected: Record<string, number> = { 'llama-bpe': 1, qwen2: 2, smollm: 2, 'gpt-2': 1, default: 1 };
  it.each(Object.keys(expected))('%s', (pre) => {
    const { tokenizerJson, tokenizerConfig } = convert({ ...META, 'tokenizer.ggml.pre': pre });
    const t = new TextTokenizer(tokenizerJson, tokenizerConfig);
    expect(t.encode('12')).toHaveLength(expected[pre]!);
    const text = "a 12 b\n\n  <|end|> c's";
    const ids = t.encode(text);
    expect(ids).toContain(N - 1); // the control token splits out
    expect(t.decode(ids, { skipSpecialTokens: false, cleanUpSpaces: false })).toBe(text);
  });

  it('every name llama.cpp maps to these splits is covered', () => {
    expect(Object.keys(GGUF_PRE_TOKENIZERS).sort()).toEqual(
      ['default', 'deepseek-r1-qwen', 'gpt-2', 'llama-bpe', 'llama-v3', 'llama3', 'megrez', 'qwen2', 'smollm'].sort(),
    );
  });
});

describe("bad 'gpt2' vocabularies", () => {
  it('merges naming a token the vocabulary lacks, or producing one', () => {
    expectShrinkrayError(
      () => convert({ ...META, 'tokenizer.ggml.merges': ['1 2', 'Ġ zz'] }),
      'bad_file',
      /^m\.gguf: metadata key 'tokenizer\.ggml\.merges' entry 1 \("Ġ zz"\) names "zz", which is not a token of tokenizer\.ggml\.tokens/,
    );
    expectShrinkrayError(
      () => convert({ ...META, 'tokenizer.ggml.merges': ['1 3'] }),
      'bad_file',
      /'tokenizer\.ggml\.merges' entry 0 \("1 3"\) names "13", which is not a token/,
    );
    expectShrinkrayError(() => convert({ ...META, 'tokenizer.ggml.merges': ['12'] }), 'bad_file', /entry 0 \("12"\) is not two tokens/);
    expectShrinkrayError(
      () => convert({ ...META, 'tokenizer.ggml.merges': undefined }),
      'bad_file',
      /'tokenizer\.ggml\.merges' is missing/,
    );
  });

  it('a token count different from the embedding rows', () => {
    expectShrinkrayError(
      () => convert(META, N + 5),
      'bad_file',
      `m.gguf: metadata key 'tokenizer.ggml.tokens' holds ${N} tokens but token_embd.weight has ${N + 5} rows`,
    );
  });

  it('an unknown or missing pre-tokenizer is refused, naming the key and value', () => {
    expectShrinkrayError(
      () => convert({ ...META, 'tokenizer.ggml.pre': 'tekken' }),
      'bad_file',
      /m\.gguf: metadata key 'tokenizer\.ggml\.pre' is "tekken", a pre-tokenizer Shrinkray does not know.*Supported: llama-bpe/,
    );
    expectShrinkrayError(() => convert({ ...META, 'tokenizer.ggml.pre': 'constructor' }), 'bad_file', /is "constructor"/);
    expectShrinkrayError(() => convert({ ...META, 'tokenizer.ggml.pre': undefined }), 'bad_file', /'tokenizer\.ggml\.pre' is missing/);
  });

  it('token types, byte coverage, duplicates and special ids are checked', () => {
    expectShrinkrayError(
      () => convert({ ...META, 'tokenizer.ggml.token_type': TYPES.slice(1) }),
      'bad_file',
      /'tokenizer\.ggml\.token_type' must be/,
    );
    expectShrinkrayError(
      () => convert({ ...META, 'tokenizer.ggml.token_type': [...TYPES.slice(0, -1), 9] }),
      'bad_file',
      /'tokenizer\.ggml\.token_type' gives token 257 \("<\|end\|>"\) the unknown type 9/,
    );
    const noSpace = TOKENS.map((t) => (t === 'Ġ' ? 'x?' : t));
    expectShrinkrayError(
      () => convert({ ...META, 'tokenizer.ggml.tokens': noSpace }),
      'bad_file',
      /lacks the byte-level token for byte 0x20 \("Ġ"\)/,
    );
    const twice = TOKENS.map((t) => (t === '12' ? 'a' : t));
    expectShrinkrayError(
      () => convert({ ...META, 'tokenizer.ggml.tokens': twice, 'tokenizer.ggml.merges': [] }),
      'bad_file',
      /'tokenizer\.ggml\.tokens' holds "a" twice \(ids 97 and 256\)/,
    );
    expectShrinkrayError(
      () => convert({ ...META, 'tokenizer.ggml.eos_token_id': N }),
      'bad_file',
      `m.gguf: metadata key 'tokenizer.ggml.eos_token_id' is ${N}, not the id of a token of tokenizer.ggml.tokens (${N} tokens)`,
    );
  });
});

describe('a GGUF file whose token list and embedding disagree', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'shrinkray-gguf-bpe-bad-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('is refused by the import, naming the file and the key', async () => {
    // Qwen3's 151669 tokens without llama.cpp's [PAD] fillers up to the 151936 embedding rows.
    const path = await writeBpeModel(join(work, 'short.gguf'), realTokenizer('qwen3').dir, [
      ...['--pre', 'qwen2', '--rows', '151936', '--tokens', '151669', '--bos', '151643', '--eos', '151645'],
    ]);
    await expectShrinkrayError(
      importGguf(await fileSource(path)),
      'bad_file',
      /short\.gguf: metadata key 'tokenizer\.ggml\.tokens' holds 151669 tokens but token_embd\.weight has 151936 rows/,
    );
  });
});

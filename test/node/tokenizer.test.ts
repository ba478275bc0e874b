import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLlama2cTokenizer, type Llama2cTokenizer } from '../../src/formats/llama2c.ts';
import { convertLlama2cTokenizer } from '../../src/formats/tokenizer-llama2c.ts';
import { createRng } from '../seeded-random.ts';

const fixtures = process.env.SHRINKRAY_FIXTURES ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures');
const tokPath = join(fixtures, 'stories260K', 'tok512.bin');
const tok: Llama2cTokenizer = readLlama2cTokenizer(readFileSync(tokPath), tokPath, 512);

/**
 * Independent reference: a direct port of llama2.c's `encode()` (run.c), without BOS/EOS.
 * Dummy-prefix space, then each UTF-8 character's token or its bytes (+3), then merge
 * the adjacent pair whose concatenation scores highest (leftmost on ties) until none.
 */
const lookup = new Map<string, number>();
tok.pieces.forEach((piece, id) => lookup.set(piece, lookup.get(piece) ?? id));
function llama2cEncode(text: string): number[] {
  const ids: number[] = [];
  if (text.length > 0) ids.push(lookup.get(' ')!);
  for (const ch of text) {
    const id = lookup.get(ch);
    if (id !== undefined) ids.push(id);
    else for (const byte of new TextEncoder().encode(ch)) ids.push(byte + 3);
  }
  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i + 1 < ids.length; i++) {
      const id = lookup.get(tok.pieces[ids[i]!]! + tok.pieces[ids[i + 1]!]!);
      if (id !== undefined && tok.scores[id]! > bestScore) {
        bestScore = tok.scores[id]!;
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) return ids;
    ids.splice(bestIdx, 2, bestId);
  }
}

function stories(file: string, count: number): string[] {
  return readFileSync(join(fixtures, 'text', file), 'utf8')
    .split('<|endoftext|>')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .slice(0, count);
}

let dir: string;
let hf: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
const hfEncode = (text: string) => Array.from(hf.encode(text) as number[]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shrinkray-tok-'));
  const { tokenizerJson, tokenizerConfig } = convertLlama2cTokenizer(tok, tokPath, 512);
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  env.allowRemoteModels = false;
  env.localModelPath = tmpdir() + '/';
  hf = await AutoTokenizer.from_pretrained(dir.slice(tmpdir().length + 1));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Encodes every text both ways; returns the scored token count (after BOS) and mismatches. */
function compare(texts: string[]): { tokens: number; mismatches: string[]; roundTripFailures: string[] } {
  let tokens = 0;
  const mismatches: string[] = [];
  const roundTripFailures: string[] = [];
  for (const text of texts) {
    const expected = [1, ...llama2cEncode(text)];
    const got = hfEncode(text);
    tokens += expected.length - 1;
    if (got.length !== expected.length || got.some((id, i) => id !== expected[i])) mismatches.push(text);
    if (hf.decode(got, { skip_special_tokens: true }) !== text) roundTripFailures.push(text);
  }
  return { tokens, mismatches, roundTripFailures };
}

describe('llama2.c tokenizer converted to tokenizer.json, run by transformers.js', () => {
  it('encodes the 5 sample stories exactly as llama2.c (1,804 tokens after BOS)', () => {
    const r = compare(stories('tinystories_sample.txt', 5));
    expect(r.mismatches).toEqual([]);
    expect(r.roundTripFailures).toEqual([]);
    expect(r.tokens).toBe(1804);
  });

  it('encodes the first 100 eval stories and the first 200 calibration stories exactly', () => {
    const evalRun = compare(stories('tinystories_eval.txt', 100));
    const calibRun = compare(stories('tinystories_calibration.txt', 200));
    expect(evalRun.mismatches).toEqual([]);
    expect(calibRun.mismatches).toEqual([]);
    expect(evalRun.roundTripFailures).toEqual([]);
    expect(calibRun.roundTripFailures).toEqual([]);
  });

  it('matches on odd text: bytes without a token, emoji, whitespace runs, the empty string', () => {
    const texts = [
      'a',
      ' ',
      '  x  y ',
      'héllo wörld 😀 \n\n\tend',
      'aaaaaaa',
      'the the the',
      'ßüñ — “quoted” … 日本語',
      'x\r\ny',
      '< s > <0x41>',
    ];
    const r = compare(texts);
    expect(r.mismatches).toEqual([]);
    expect(r.roundTripFailures).toEqual([]);
    expect(hfEncode('')).toEqual([1]);
    expect(llama2cEncode('')).toEqual([]);
  });

  it('differs, as documented, only on a literal ▁ (U+2581) or special-token text in the input', () => {
    // The Hugging Face convention spells spaces '▁' inside pieces, so a literal '▁' reads as
    // a space there, while llama2.c has no token for it and falls back to its UTF-8 bytes.
    expect(llama2cEncode('\u2581x')).toEqual([410, 0xe2 + 3, 0x96 + 3, 0x81 + 3, 444]);
    expect(hfEncode('\u2581x')).toEqual([1, 410, 410, 444]);
    // Special tokens written as text are split out by transformers; llama2.c spells them.
    expect(hfEncode('a<s>')).toContain(1);
    expect(llama2cEncode('a<s>')).not.toContain(1);
  });

  it('matches on random concatenations of vocabulary pieces (merge ties and overlaps)', () => {
    const r = createRng(7);
    const pieces = tok.pieces.slice(259);
    const texts = Array.from({ length: 400 }, () =>
      Array.from({ length: 2 + Math.floor(r() * 30) }, () => pieces[Math.floor(r() * pieces.length)]!).join(r() < 0.5 ? '' : ' '),
    );
    const result = compare(texts.map((t) => t.trim()).filter((t) => t.length > 0));
    expect(result.mismatches).toEqual([]);
    expect(result.roundTripFailures).toEqual([]);
  });

  it('writes a tokenizer_config.json for a plain Llama tokenizer adding BOS only', () => {
    const { tokenizerConfig, tokenizerJson } = convertLlama2cTokenizer(tok, tokPath, 512);
    expect(tokenizerConfig).toMatchObject({
      tokenizer_class: 'LlamaTokenizer',
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      add_bos_token: true,
      add_eos_token: false,
      model_max_length: 512,
    });
    expect(tokenizerConfig).not.toHaveProperty('chat_template');
    const model = tokenizerJson.model as { vocab: Record<string, number>; merges: unknown[]; byte_fallback: boolean };
    expect(model.byte_fallback).toBe(true);
    expect(Object.keys(model.vocab).length).toBe(512);
    expect(model.vocab['<s>']).toBe(1);
    expect(model.vocab['<0x0A>']).toBe(13);
    expect(model.vocab['\u2581the']).toBe(265);
    expect(hf.decode([1, 403, 407, 261, 378], { skip_special_tokens: true })).toBe('Once upon a time');
  });
});

import { describe, expect, it } from 'vitest';
import { calibrationWindows } from '../../src/compress/calibration-windows.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/** Calibration text -> token windows: documents with BOS, one stream, whole windows, a seeded pick. */
const encode = (doc: string) => [1, ...Array.from(doc, (ch) => ch.charCodeAt(0))]; // BOS + one id per character

describe('calibrationWindows', () => {
  const text = Array.from({ length: 50 }, (_, i) => `story ${i} ${'x'.repeat(i)}`).join('<|endoftext|>');
  const stream = text.split('<|endoftext|>').flatMap((d) => encode(d.trim()));

  it('cuts the documents, each with its BOS, into consecutive whole windows', () => {
    const all = calibrationWindows(text, encode, { windowLength: 64, count: 1000, seed: 0 });
    expect(all.tokens).toBe(stream.length);
    expect(all.available).toBe(Math.floor(stream.length / 64));
    expect(all.windows).toHaveLength(all.available);
    all.windows.forEach((w, i) => expect(Array.from(w)).toEqual(stream.slice(i * 64, (i + 1) * 64)));
  });

  it('picks `count` windows by seed, in stream order: the same seed gives the same windows', () => {
    const a = calibrationWindows(text, encode, { windowLength: 64, count: 5, seed: 7 });
    const b = calibrationWindows(text, encode, { windowLength: 64, count: 5, seed: 7 });
    const c = calibrationWindows(text, encode, { windowLength: 64, count: 5, seed: 8 });
    expect(a.windows).toHaveLength(5);
    expect(a.windows.map((w) => Array.from(w))).toEqual(b.windows.map((w) => Array.from(w)));
    expect(a.windows.map((w) => w[0])).not.toEqual(c.windows.map((w) => w[0]));
    const starts = a.windows.map((w) => stream.findIndex((_, i) => i % 64 === 0 && stream.slice(i, i + 64).every((v, j) => v === w[j])));
    expect(starts).toEqual([...starts].sort((x, y) => x - y));
  });

  it('a text shorter than one window is one shorter window; an empty one is refused', () => {
    const short = calibrationWindows('Once upon a time', encode, { windowLength: 512, count: 128, seed: 0 });
    expect(short.windows.map((w) => Array.from(w))).toEqual([encode('Once upon a time')]);
    expectShrinkrayError(
      () => calibrationWindows(' <|endoftext|> ', encode, { windowLength: 512, count: 1, seed: 0 }),
      'bad_argument',
      /holds 0 token/,
    );
    expectShrinkrayError(
      () => calibrationWindows(text, encode, { windowLength: 64, count: 0, seed: 0 }),
      'bad_argument',
      /count must be an integer >= 1/,
    );
  });
});

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { poolWindows, WindowDraw } from '../../src/compress/calibration-windows.ts';
import { DocumentPieces, documentPieces, PIECE_CHARS, type TextPiece } from '../../src/formats/document-pieces.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput, withEnv } from './run-cli.ts';
import { TOKENIZER_MS_VARIABLE } from '../../src/node/guarded-tokenizer.ts';

/**
 * Issue 21, items 3, 4 and 5 and part of 15, through the CLI: calibration tokenizes only the
 * pool its draw needs, in bounded pieces, on the guarded tokenizer thread; eval scores the
 * head of a giant document without handing the tokenizer all of it.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-calibration-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// The runs that wait out a hung regular expression stop it after 1 s, not the default 10 s (tokenizerCallMs).
const HUNG_MS = 1000;
const hungBudget = { [TOKENIZER_MS_VARIABLE]: String(HUNG_MS) };

/** The calibration summary compress wrote to --out's report. */
function calibrationReport(out: string): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(out, 'shrinkray.json'), 'utf8')) as { calibration: Record<string, unknown> }).calibration;
}

describe('calibration text', () => {
  it('a pre-tokenizer that backtracks without end stops compress after the budget, naming tokenizer.json and the text', async () => {
    const dir = join(work, 'regex');
    cpSync(STORIES_DIR, dir, { recursive: true });
    const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    tokenizer.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a|aa)+$' }, behavior: 'Isolated', invert: false };
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    const calib = join(work, 'aaa.txt');
    writeFileSync(calib, `${'a'.repeat(64)}!`);
    const r = await withEnv(hungBudget, () =>
      runCli(['compress', dir, '--recipe', 'gptq-int4-g32', '--calib', calib, '--out', join(work, 'never')]),
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd()).toMatch(
      /^shrinkray compress: --calib .*aaa\.txt: .*tokenizer\.json: encoding a text of 65 characters did not finish within 1000 ms \(a regular expression that backtracks without end\?\); the tokenizer was stopped \[bad_file\]$/,
    );
  });

  it('one 16 MB word with --calib-windows 1 is tokenized only up to the pool, in bounded pieces', async () => {
    const calib = join(work, 'word.txt');
    writeFileSync(calib, 'a'.repeat(16 * 1024 * 1024));
    const out = join(work, 'word');
    const r = await runCli(['compress', STORIES_DIR, '--recipe', 'wanda50', '--calib', calib, '--calib-windows', '1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    // 2048 windows of 512 tokens were drawn from, not the 32 K windows the whole word holds.
    expect(calibrationReport(out)).toMatchObject({ name: 'word.txt', available: 2048, windows: 1 });
  });

  it('a text far beyond the pool is read and tokenized only up to it; one below the pool draws from all of it', async () => {
    // 200 MB of stories, as blocks of a file arrive: tokenizing stops, and no block is asked for, after the pool.
    const story = readFileSync(fixtureTextPath('tinystories_calibration.txt'), 'utf8').slice(0, 1 << 20);
    let encoded = 0;
    const draw = new WindowDraw((t, bos) => ((encoded += t.length), Array.from({ length: t.length + (bos ? 1 : 0) }, () => 7)), {
      windowLength: 512,
      count: 4,
      seed: 0,
    });
    let blocks = 0;
    while (blocks < 200 && draw.push(story)) blocks++;
    expect(blocks).toBe(Math.floor((poolWindows(4) * 512) / story.length));
    expect(encoded).toBeLessThan(poolWindows(4) * 512 + story.length);
    expect(draw.finish()).toMatchObject({ available: poolWindows(4), tokens: poolWindows(4) * 512 });
    // Through the CLI, a text below the pool: every window it holds is drawn from.
    const small = join(work, 'small');
    const sample = fixtureTextPath('tinystories_sample.txt');
    expect(
      (await runCli(['compress', STORIES_DIR, '--recipe', 'wanda50', '--calib', sample, '--calib-windows', '4', '--out', small])).code,
    ).toBe(0);
    expect(calibrationReport(small)).toMatchObject({ available: 3, windows: 3 });
    // A window count past the bound would make the pool itself unbounded.
    const many = await runCli([
      'compress',
      STORIES_DIR,
      '--recipe',
      'wanda50',
      '--calib',
      sample,
      '--calib-windows',
      '100000',
      '--out',
      join(work, 'no'),
    ]);
    expect(many.code).toBe(2); // a usage error
    expect(many.stderr).toMatch(/--calib-windows 100000 is above the 4096 windows one compression calibrates on \[bad_argument\]\n$/);
  });
});

describe('eval of a giant document', () => {
  it('a 10 MB one-word --text scores its head: no tokenizer call on 10 MB, no blame on tokenizer.json', async () => {
    const text = join(work, 'word10.txt');
    writeFileSync(text, 'a'.repeat(10 * 1024 * 1024));
    const r = await runCli(['eval', STORIES_DIR, '--text', text]);
    expect(r.code, r.stderr).toBe(0);
    const { json } = splitOutput(r.stdout);
    expect(json).toMatchObject({ docs: 1, tokens: 511 });
    expect(Number.isFinite(json.ppl)).toBe(true);
  });
});

describe('document pieces', () => {
  const chars = fc.constantFrom('a', 'b', ' ', '\n', '<|endoftext|>', '\u{1F600}', 'é');
  const text = fc.tuple(fc.array(chars, { maxLength: 60 }), fc.nat({ max: 3 })).map(([cs, longRuns]) => {
    // Some runs long enough to be cut: a word, a spaced run, whitespace.
    const runs = ['x'.repeat(PIECE_CHARS + 7), 'ab '.repeat(PIECE_CHARS / 2), ' '.repeat(PIECE_CHARS * 2), '\u{1F600}'.repeat(PIECE_CHARS)];
    return [...cs, ...runs.slice(0, longRuns)].sort(() => 0).join('');
  });

  it('the same pieces whatever the blocks; a short document is one piece, its trimmed self; pieces rebuild each document', () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat({ max: 40_000 }), { maxLength: 6 }), (t, cuts) => {
        const whole = documentPieces(t);
        const streamed: TextPiece[] = [];
        const pieces = new DocumentPieces((p) => void streamed.push(p));
        let at = 0;
        for (const c of [...cuts].sort((a, b) => a - b)) {
          pieces.push(t.slice(at, Math.max(at, c)));
          at = Math.max(at, c);
        }
        pieces.push(t.slice(at));
        pieces.end();
        expect(streamed).toEqual(whole);
        const docs = t
          .split('<|endoftext|>')
          .map((d) => d.trim())
          .filter((d) => d.length > 0);
        expect(
          docs.map((_, i) =>
            whole
              .filter((p) => p.doc === i)
              .map((p) => p.text)
              .join(''),
          ),
        ).toEqual(docs);
        for (const p of whole) expect(p.text.length).toBeLessThanOrEqual(PIECE_CHARS);
        for (const [i, d] of docs.entries())
          if (d.length <= PIECE_CHARS) expect(whole.filter((p) => p.doc === i)).toEqual([{ text: d, first: true, doc: i }]);
      }),
      { seed: 20261201, numRuns: 200 },
    );
  });
});

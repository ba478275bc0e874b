import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TOKENIZER_BUDGET } from '../../src/runtime/tokenizer-budget.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput, withEnv } from './run-cli.ts';
import { tokenizerCallMs, TOKENIZER_MS_VARIABLE } from '../../src/node/guarded-tokenizer.ts';

/**
 * The model's own code, bounded (issue 10, item 4): a tokenizer.json regular expression that
 * backtracks without end, and chat templates that loop 1e8 times or build huge strings, end
 * in one line naming the file within their budgets, and the CLI still exits. chat_template.jinja
 * is read when tokenizer_config.json has none (item 9); import loads tokenizer.json to check
 * it, and a token id the model has no row for names tokenizer.json (item 12).
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-tokenizer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// The runs that wait out a hung regular expression stop it after 1 s, not the default 10 s (tokenizerCallMs).
const HUNG_MS = 1000;
const hungBudget = { [TOKENIZER_MS_VARIABLE]: String(HUNG_MS) };
let n = 0;

type Json = Record<string, unknown>;
function stories(edit: { tokenizer?: (t: Json) => void; tokenizerConfig?: (t: Json) => void; files?: Record<string, string> }): string {
  const dir = join(work, `m${++n}`);
  cpSync(STORIES_DIR, dir, { recursive: true });
  for (const [file, fn] of [
    ['tokenizer.json', edit.tokenizer],
    ['tokenizer_config.json', edit.tokenizerConfig],
  ] as const) {
    if (!fn) continue;
    const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json;
    fn(json);
    writeFileSync(join(dir, file), JSON.stringify(json));
  }
  for (const [file, text] of Object.entries(edit.files ?? {})) writeFileSync(join(dir, file), text);
  return dir;
}

async function oneLine(args: string[]): Promise<{ line: string; ms: number }> {
  const t0 = performance.now();
  const r = await runCli(args);
  const ms = performance.now() - t0;
  expect(r.code, r.stdout).toBe(1);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  return { line: r.stderr.trimEnd(), ms };
}

// A pattern that backtracks exponentially on a run of 'a' that does not end the text.
const CATASTROPHIC = { type: 'Split', pattern: { Regex: '(a|aa)+$' }, behavior: 'Isolated', invert: false };

describe("tokenizer.json's regular expressions run within a time budget", () => {
  it('takes its budget from SHRINKRAY_TOKENIZER_MS where set, refusing what is not a sane number of milliseconds', () => {
    expect(tokenizerCallMs({})).toBe(TOKENIZER_BUDGET.callMs);
    expect(tokenizerCallMs({ [TOKENIZER_MS_VARIABLE]: '2500' })).toBe(2500);
    for (const bad of ['abc', '1.5', '50', '-1', '1e9']) {
      expectShrinkrayError(
        () => tokenizerCallMs({ [TOKENIZER_MS_VARIABLE]: bad }),
        'bad_argument',
        new RegExp(`^SHRINKRAY_TOKENIZER_MS must be .*got '${bad.replace('.', '\\.')}'$`),
      );
    }
  });

  it('a pre-tokenizer that backtracks without end stops generate after the budget, naming tokenizer.json', async () => {
    const dir = stories({
      tokenizer: (t) => {
        t.pre_tokenizer = CATASTROPHIC;
      },
    });
    const { line, ms } = await withEnv(hungBudget, () =>
      oneLine(['generate', dir, '--prompt', `${'a'.repeat(64)}!`, '--max-new-tokens', '2']),
    );
    expect(line).toMatch(
      /^shrinkray generate: .*tokenizer\.json: encoding a text of 65 characters did not finish within 1000 ms \(a regular expression that backtracks without end\?\); the tokenizer was stopped \[bad_file\]$/,
    );
    expect(ms).toBeGreaterThanOrEqual(HUNG_MS);
    // The same model with a harmless prompt still runs: the budget is per call.
    const ok = await runCli(['generate', dir, '--prompt', 'Once', '--max-new-tokens', '2']);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('a normalizer that does the same, through eval', async () => {
    const dir = stories({
      tokenizer: (t) => {
        t.normalizer = { type: 'Replace', pattern: { Regex: '(a|aa)+$' }, content: 'x' };
      },
    });
    const text = join(work, 'aaa.txt');
    writeFileSync(text, `${'a'.repeat(64)}!`);
    const { line } = await withEnv(hungBudget, () => oneLine(['eval', dir, '--text', text]));
    expect(line).toMatch(/tokenizer\.json: encoding a text of \d+ characters did not finish within 1000 ms/);
  });
});

describe('chat templates run within a step, time and size budget', () => {
  it.each([
    ['loops 1e8 times', '{% for i in range(100000000) %}x{% endfor %}', /asked range\(\) for 100000000 items, above the 100000 allowed/],
    [
      'nests loops past the step budget',
      '{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}',
      /did not finish within (2000000 steps|2000 ms)/,
    ],
    [
      'nests loops with empty bodies (found by the fuzzer)',
      '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
      /did not finish within (2000000 steps|2000 ms)/,
    ],
    [
      'doubles a string',
      '{% set ns = namespace(s="ab") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}',
      /built a string of \d+ characters, above the 4194304 allowed/,
    ],
    ['asks for a huge indent', '{{ "a\\nb" | indent(300000000) }}', /asks the indent filter for a width of 300000000/],
  ])('a template in tokenizer_config.json that %s fails, naming the file', async (_what, template, pattern) => {
    const dir = stories({
      tokenizerConfig: (t) => {
        t.chat_template = template;
      },
    });
    const { line } = await oneLine(['generate', dir, '--prompt', 'Hi', '--chat', 'on']);
    expect(line).toMatch(/tokenizer_config\.json: the chat template /);
    expect(line).toMatch(pattern);
  });

  it('chat_template.jinja is read when tokenizer_config.json has none, and its errors name it', async () => {
    const good = stories({
      files: { 'chat_template.jinja': "{{ bos_token }}{% for m in messages %}{{ m['content'] }} The end.{% endfor %}" },
    });
    const on = await runCli(['generate', good, '--prompt', 'Once', '--chat', 'on', '--max-new-tokens', '2']);
    const off = await runCli(['generate', good, '--prompt', 'Once', '--chat', 'off', '--max-new-tokens', '2']);
    expect(on.code, on.stderr).toBe(0);
    expect(splitOutput(on.stdout).json.promptTokens as number).toBeGreaterThan(splitOutput(off.stdout).json.promptTokens as number);
    const bad = stories({ files: { 'chat_template.jinja': '{% for i in range(100000000) %}x{% endfor %}' } });
    const { line } = await oneLine(['generate', bad, '--prompt', 'Hi', '--chat', 'on']);
    expect(line).toMatch(/chat_template\.jinja: the chat template asked range\(\) for 100000000 items/);
  });
});

describe('tokenizer.json checked on import; token ids beyond the vocabulary named (item 12)', () => {
  it('import refuses a tokenizer.json the library cannot load, and writes nothing', async () => {
    const dir = stories({
      tokenizer: (t) => {
        t.model = { type: 'NoSuchModel' };
      },
    });
    const out = join(work, 'never');
    const { line } = await oneLine(['import', dir, '--out', out]);
    expect(line).toMatch(/tokenizer\.json could not be loaded: .*\[bad_file\]$/);
    expect(existsSync(out)).toBe(false);
  });

  it('a token id past config.json vocab_size names tokenizer.json, the position and the id', async () => {
    const dir = stories({
      tokenizer: (t) => {
        (t.added_tokens as Json[]).push({
          id: 600,
          content: '<extra>',
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        });
      },
    });
    const { line } = await oneLine(['generate', dir, '--prompt', 'Once<extra>', '--max-new-tokens', '2']);
    expect(line).toMatch(
      /tokenizer\.json encodes the text's token \d+ as id 600 \("<extra>"\), outside the model's vocabulary of 512 \(config\.json vocab_size\) \[bad_file\]$/,
    );
    const text = join(work, 'extra.txt');
    writeFileSync(text, readFileSync(fixtureTextPath('tinystories_sample.txt'), 'utf8').slice(0, 200) + '<extra>');
    expect((await oneLine(['eval', dir, '--text', text])).line).toMatch(/as id 600/);
  });
});

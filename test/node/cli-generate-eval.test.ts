import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedGreedyText, fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput } from './run-cli.ts';
import { BUDGET } from '../error-budgets.ts';

describe('shrinkray generate', () => {
  it('greedy from BOS prints the reference text, then a JSON summary', async () => {
    const { code, stdout } = await runCli(['generate', STORIES_DIR, '--max-new-tokens', '64', '--temperature', '0']);
    expect(code).toBe(0);
    const { text, json } = splitOutput(stdout);
    expect(text.startsWith(expectedGreedyText())).toBe(true);
    expect(json).toMatchObject({ tokens: 64, stoppedBy: 'length', engine: 'cpu', threads: 1, promptTokens: 1 });
    expect(json.tokensPerSecond).toBeGreaterThan(0);
    expect(json.prefillTokensPerSecond).toBeGreaterThan(0);
  });

  it('--engine reference runs the fp32 reference forward pass; --engine and --threads are checked', async () => {
    const { code, stdout } = await runCli(['generate', STORIES_DIR, '--max-new-tokens', '64', '--engine', 'reference']);
    expect(code).toBe(0);
    expect(splitOutput(stdout).text.startsWith(expectedGreedyText())).toBe(true);
    expect(splitOutput(stdout).json.engine).toBe('reference');
    expect((await runCli(['generate', STORIES_DIR, '--engine', 'gpu'])).stderr).toMatch(/--engine must be cpu, onnx, reference, got 'gpu'/);
    expect((await runCli(['generate', STORIES_DIR, '--threads', '0'])).stderr).toMatch(
      /--threads must be an integer from 1 to 64, got '0'/,
    );
  });

  it('continues a prompt; a seed makes sampling reproducible', async () => {
    const args = [
      'generate',
      STORIES_DIR,
      '--prompt',
      'Tom had a dog',
      '--max-new-tokens',
      '20',
      '--temperature',
      '0.8',
      '--top-k',
      '20',
      '--top-p',
      '0.9',
      '--seed',
      '7',
    ];
    const a = await runCli(args);
    const b = await runCli(args);
    expect(a.code).toBe(0);
    expect(splitOutput(a.stdout).text).toBe(splitOutput(b.stdout).text);
    expect(splitOutput(a.stdout).json).toMatchObject({ tokens: 20, stoppedBy: 'length' });
    expect(splitOutput(a.stdout).json.promptTokens).toBeGreaterThan(1);
  });

  it('fails with one clear line for a folder that is not a model', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'shrinkray-empty-'));
    try {
      const { code, stderr } = await runCli(['generate', empty, '--prompt', 'x']);
      expect(code).toBe(1);
      expect(stderr).toMatch(/neither onnx\/model\.onnx .* nor model\.safetensors .*\[missing_file\]/);
    } finally {
      rmSync(empty, { recursive: true });
    }
  });
});

describe('shrinkray eval on stories260K matches the independent figures', () => {
  const timings: string[] = [];
  afterAll(() => console.info(timings.join('\n')));

  it('tinystories_sample.txt: 1,804 tokens, ppl 3.548', async () => {
    const { code, stdout } = await runCli(['eval', STORIES_DIR, '--text', fixtureTextPath('tinystories_sample.txt')]);
    expect(code).toBe(0);
    const { json } = splitOutput(stdout);
    expect(json.tokens).toBe(1804);
    expect(json.docs).toBe(5);
    expect(Math.abs((json.nll as number) - 1.2664)).toBeLessThan(BUDGET.nllVsFixture);
    expect(Math.abs((json.ppl as number) - 3.548)).toBeLessThan(BUDGET.pplVsFixture);
    timings.push(`eval sample: ${JSON.stringify(json)}`);
  });

  it('tinystories_eval.txt, first 100 stories: 31,677 tokens, ppl 3.366', async () => {
    const { code, stdout } = await runCli(['eval', STORIES_DIR, '--text', fixtureTextPath('tinystories_eval.txt'), '--max-docs', '100']);
    expect(code).toBe(0);
    const { json } = splitOutput(stdout);
    expect(json.tokens).toBe(31677);
    expect(json.docs).toBe(100);
    expect(Math.abs((json.nll as number) - 1.2136)).toBeLessThan(BUDGET.nllVsFixture);
    expect(Math.abs((json.ppl as number) - 3.366)).toBeLessThan(BUDGET.pplVsFixture);
    timings.push(`eval 100 stories: ${JSON.stringify(json)}`);
  });

  it('refuses a missing --text and a bad --max-docs', async () => {
    expect((await runCli(['eval', STORIES_DIR])).stderr).toMatch(/missing --text/);
    const bad = await runCli(['eval', STORIES_DIR, '--text', fixtureTextPath('tinystories_sample.txt'), '--max-docs', '0']);
    expect(bad.code).toBe(2); // a usage error (README)
    expect(bad.stderr).toMatch(/--max-docs must be an integer >= 1/);
  });
});

describe('generate and eval on a compressed folder: the CPU engine by default, onnxruntime-web on request', () => {
  it.each([[[]], [['--engine', 'onnx']], [['--threads', '2']]])(
    'an fp32 ONNX export with %j gives the reference text and perplexity',
    async (extra) => {
      const out = mkdtempSync(join(tmpdir(), 'shrinkray-onnx-'));
      const engine = extra[0] === '--engine' ? 'onnx' : 'cpu';
      try {
        expect((await runCli(['compress', STORIES_DIR, '--recipe', 'fp32', '--out', out])).code).toBe(0);
        const gen = await runCli(['generate', out, '--max-new-tokens', '48', ...extra]);
        expect(gen.code).toBe(0);
        expect(splitOutput(gen.stdout).json).toMatchObject({ engine, threads: extra[0] === '--threads' ? 2 : 1 });
        const text = splitOutput(gen.stdout).text;
        const expected = expectedGreedyText();
        expect(text.length).toBeGreaterThan(100);
        expect(text.length < expected.length ? expected.startsWith(text) : text.startsWith(expected)).toBe(true);
        const ev = await runCli(['eval', out, '--text', fixtureTextPath('tinystories_sample.txt'), ...extra]);
        const { json } = splitOutput(ev.stdout);
        expect(json).toMatchObject({ engine, tokens: 1804 });
        expect(json.prefillTokensPerSecond).toBeGreaterThan(0);
        expect(Math.abs((json.ppl as number) - 3.548)).toBeLessThan(BUDGET.pplVsFixture);
      } finally {
        rmSync(out, { recursive: true });
      }
    },
  );
});

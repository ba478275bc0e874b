import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput } from './run-cli.ts';

/** `shrinkray generate <dir> --draft <compressedDir>` on stories260K and its int4-g32 copy. */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-draft-'));
const int4 = join(work, 'int4');
beforeAll(async () => {
  const r = await runCli(['compress', STORIES_DIR, '--recipe', 'int4-g32', '--out', int4]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const prompt = ['--prompt', 'Lily wanted to find her cat', '--max-new-tokens', '48'];

describe('shrinkray generate --draft', () => {
  it.each(['cpu', 'onnx'])('on %s: the original text, with the acceptance rate and passes per token', async (engine) => {
    const plain = await runCli(['generate', STORIES_DIR, ...prompt, '--engine', engine]);
    const drafted = await runCli(['generate', STORIES_DIR, ...prompt, '--engine', engine, '--draft', int4, '--draft-tokens', '3']);
    expect(drafted.code, drafted.stderr).toBe(0);
    const a = splitOutput(plain.stdout);
    const b = splitOutput(drafted.stdout);
    expect(b.text).toBe(a.text);
    expect(b.json).toMatchObject({ tokens: a.json.tokens, stoppedBy: a.json.stoppedBy, engine, draft: int4, draftTokens: 3 });
    const acceptance = b.json.acceptanceRate as number;
    const perToken = b.json.targetPassesPerToken as number;
    expect(acceptance).toBeGreaterThan(0);
    expect(acceptance).toBeLessThanOrEqual(1);
    expect(perToken).toBeCloseTo((b.json.originalPasses as number) / (b.json.tokens as number), 12);
    expect(perToken).toBeLessThan(1);
    expect(b.json.tokensPerSecond).toBeGreaterThan(0);
  });

  it('refuses a draft whose tokenizer differs, naming both folders and the token', async () => {
    const other = join(work, 'other');
    cpSync(int4, other, { recursive: true });
    const file = join(other, 'tokenizer.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { model: { vocab: Record<string, number> } };
    const [token, id] = Object.entries(json.model.vocab).find(([, i]) => i === 300)!;
    delete json.model.vocab[token];
    json.model.vocab[`${token}x`] = id;
    writeFileSync(file, JSON.stringify(json));
    const r = await runCli(['generate', STORIES_DIR, '--draft', other, '--max-new-tokens', '4']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the draft ${other} cannot draft for ${STORIES_DIR}`);
    expect(r.stderr).toContain(
      `differs at entry 300: id 300 = ${JSON.stringify(`${token}x`)} in the draft, id 300 = ${JSON.stringify(token)}`,
    );
  });

  it('samples with a draft reproducibly from a seed; refuses --draft-tokens without --draft', async () => {
    const args = [
      'generate',
      STORIES_DIR,
      '--draft',
      int4,
      '--temperature',
      '0.8',
      '--top-p',
      '0.9',
      '--seed',
      '5',
      '--max-new-tokens',
      '30',
    ];
    const [a, b] = [await runCli(args), await runCli(args)];
    expect(a.code, a.stderr).toBe(0);
    expect(splitOutput(a.stdout).text).toBe(splitOutput(b.stdout).text);
    expect(splitOutput(a.stdout).json).toMatchObject({ tokens: 30, draftTokens: 4 });
    expect((await runCli(['generate', STORIES_DIR, '--draft-tokens', '3'])).stderr).toMatch(/--draft-tokens needs --draft/);
  });
});

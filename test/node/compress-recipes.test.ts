import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput } from './run-cli.ts';

/**
 * `shrinkray compress` then `shrinkray eval` on stories260K against the figures an
 * independent numpy implementation computed (../shared/fixtures/README.md): ppl ratio to
 * fp32 on tinystories_sample.txt, 7 linear weights per layer quantized, embedding fp32.
 */
const SAMPLE = fixtureTextPath('tinystories_sample.txt');
const work = mkdtempSync(join(tmpdir(), 'shrinkray-recipes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function compressAndEval(recipe: string): Promise<{ ppl: number; tokens: number; bytesOut: number; report: Record<string, unknown> }> {
  const out = join(work, recipe);
  const c = await runCli(['compress', STORIES_DIR, '--recipe', recipe, '--out', out]);
  expect(c.code, c.stderr).toBe(0);
  const summary = splitOutput(c.stdout).json;
  expect(summary).toMatchObject({ recipe });
  const e = await runCli(['eval', out, '--text', SAMPLE]);
  expect(e.code, e.stderr).toBe(0);
  const { ppl, tokens } = splitOutput(e.stdout).json as { ppl: number; tokens: number };
  const report = JSON.parse(readFileSync(join(out, 'shrinkray.json'), 'utf8')) as Record<string, unknown>;
  return { ppl, tokens, bytesOut: summary.bytesOut as number, report };
}

describe('RTN recipes reproduce the independent perplexity figures', () => {
  let fp32: Awaited<ReturnType<typeof compressAndEval>>;
  beforeAll(async () => {
    fp32 = await compressAndEval('fp32');
  });

  it('fp32 export: ppl 3.548 on 1,804 tokens', () => {
    expect(fp32.tokens).toBe(1804);
    expect(fp32.ppl).toBeCloseTo(3.548, 2);
    expect(Math.abs(fp32.ppl - 3.548)).toBeLessThan(0.002);
  });

  it.each([
    ['int8', 1.0, 0.001],
    ['int4-g32', 1.15, 0.01],
    ['int4-g32-asym', 1.132, 0.01],
    ['int4-g64', 1.181, 0.01],
  ])('%s: ppl ratio %f (±%f), smaller file, per-tensor error recorded', async (recipe, ratio, tolerance) => {
    const r = await compressAndEval(recipe);
    expect(r.tokens).toBe(1804);
    expect(Math.abs(r.ppl / fp32.ppl - ratio)).toBeLessThan(tolerance);
    expect(r.bytesOut).toBeLessThan(fp32.bytesOut);
    const tensors = r.report.tensors as { name: string; kind: string; relError: number | null }[];
    const linears = tensors.filter((t) => /_proj\.weight$/.test(t.name));
    expect(linears.length).toBe(35);
    for (const t of linears) {
      expect(t.kind.startsWith(recipe.startsWith('int8') ? 'int8' : 'int4')).toBe(true);
      expect(t.relError).toBeGreaterThan(0);
      expect(t.relError).toBeLessThan(recipe === 'int8' ? 0.02 : 0.2);
    }
  });
});

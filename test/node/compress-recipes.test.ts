import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput } from './run-cli.ts';
import { BUDGET } from '../error-budgets.ts';

/**
 * `shrinkray compress` then `shrinkray eval` on stories260K against the figures an
 * independent numpy implementation computed (../shared/fixtures/README.md): ppl ratio to
 * fp32 on tinystories_sample.txt, 7 linear weights per layer quantized, embedding fp32.
 */
const SAMPLE = fixtureTextPath('tinystories_sample.txt');
const work = mkdtempSync(join(tmpdir(), 'shrinkray-recipes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function compressAndEval(
  recipe: string,
): Promise<{ ppl: number; tokens: number; bytesOut: number; report: Record<string, unknown> }> {
  const out = join(work, recipe);
  const c = await runCli(['compress', STORIES_DIR, '--recipe', recipe, '--out', out, '--force']); // both suites compress fp32 into the same folder
  expect(c.code, c.stderr).toBe(0);
  const summary = splitOutput(c.stdout).json;
  expect(summary).toMatchObject({ recipe });
  // onnxruntime multiplies the stored weights in f32, as the independent figures did; the CPU
  // engine's int8 activations add their own small cost (engine-stories.test.ts bounds it).
  const e = await runCli(['eval', out, '--text', SAMPLE, '--engine', 'onnx']);
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
    expect(Math.abs(fp32.ppl - 3.548)).toBeLessThan(BUDGET.pplVsFixture);
  });

  it.each([
    ['int8', 1.0, BUDGET.pplRatioInt8],
    ['int4-g32', 1.15, BUDGET.pplRatioInt4],
    ['int4-g32-asym', 1.132, BUDGET.pplRatioInt4],
    ['int4-g64', 1.181, BUDGET.pplRatioInt4],
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
      expect(t.relError).toBeLessThan(BUDGET.rtnRelError[recipe === 'int8' ? 8 : 4]);
    }
  });
});

describe('embedding quantization, structured pruning and bad recipes through the CLI', () => {
  it('int4-g32+emb8 costs little more than int4-g32 and is smaller', async () => {
    const fp32 = await compressAndEval('fp32');
    const int4 = await compressAndEval('int4-g32');
    const emb8 = await compressAndEval('int4-g32+emb8');
    expect(emb8.ppl / int4.ppl).toBeLessThan(1.005); // "costs little more"
    expect(emb8.ppl / fp32.ppl).toBeLessThan(1.16);
    // The embedding goes from 512 x 64 fp32 (131,072 bytes) to int8 codes plus fp32 scales.
    expect(int4.bytesOut - emb8.bytesOut).toBeGreaterThan(131_072 - 36_864 - 1_000);
    const embed = (emb8.report.tensors as { name: string; kind: string; bytes: number }[]).find(
      (t) => t.name === 'model.embed_tokens.weight',
    )!;
    expect(embed).toMatchObject({ kind: 'int8-g32', bytes: 36_864 });
  });

  it.each(['ffn25+int8', 'heads25+int4-g32'])('%s runs, is smaller in bytes and parameters, and its ppl is reported', async (recipe) => {
    const plain = await compressAndEval(recipe.split('+')[1]!);
    const pruned = await compressAndEval(recipe);
    const { paramsIn, paramsOut } = pruned.report as { paramsIn: number; paramsOut: number };
    expect(paramsIn).toBe(260_032);
    expect(paramsOut).toBeLessThan(paramsIn);
    expect(pruned.bytesOut).toBeLessThan(plain.bytesOut);
    expect(pruned.tokens).toBe(1804);
    expect(pruned.ppl).toBeGreaterThan(plain.ppl); // removing channels or heads costs quality on top of the quantization
    const config = JSON.parse(readFileSync(join(work, recipe, 'config.json'), 'utf8')) as Record<string, number>;
    if (recipe.startsWith('ffn')) expect(config.intermediate_size).toBe(172 - Math.round(0.25 * 172));
    else expect([config.num_attention_heads, config.num_key_value_heads, config.head_dim]).toEqual([6, 3, 8]);
  });

  it.each([
    ['int4-g128', /block size 128 is larger than layer input size 64/],
    ['int9', /bit width 9/],
    ['int5', /onnxruntime-web's MatMulNBits runs only int2, int4, int8/],
    ['int4-g48', /block size 48/],
    ['magic50', /unknown step|magic50/],
    ['heads10+int8', /removes .* 0 KV groups/],
  ])('recipe %s is refused before any work, and nothing is written', async (recipe, message) => {
    const out = join(work, `bad-${recipe}`);
    const c = await runCli(['compress', STORIES_DIR, '--recipe', recipe, '--out', out, '--force']); // both suites compress fp32 into the same folder
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(message);
    expect(c.stderr).toMatch(/\[bad_recipe\]/);
    expect(existsSync(out)).toBe(false);
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput } from './run-cli.ts';

/**
 * `shrinkray compress --calib`: the same recipe, calibration text and seed write the same
 * bytes run after run; another seed picks other windows and writes others; the report says
 * what the calibration was; recipes that need calibration fall back to the built-in text.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-calibrated-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const CALIB = fixtureTextPath('tinystories_calibration.txt');

async function compress(out: string, ...args: string[]): Promise<{ model: Buffer; report: Record<string, unknown> }> {
  const r = await runCli(['compress', STORIES_DIR, '--out', join(work, out), ...args]);
  expect(r.code, r.stderr).toBe(0);
  expect(splitOutput(r.stdout).json).toMatchObject({ bytesOut: expect.any(Number) });
  return {
    model: readFileSync(join(work, out, 'onnx', 'model.onnx')),
    report: JSON.parse(readFileSync(join(work, out, 'shrinkray.json'), 'utf8')) as Record<string, unknown>,
  };
}

describe('calibrated compression from the command line', () => {
  it('same recipe, text and seed: identical bytes, run after run; another seed: other windows, other bytes', async () => {
    const args = ['--recipe', 'ffn25+gptq-int4-g32-asym', '--calib', CALIB, '--calib-windows', '8'];
    const a = await compress('a', ...args);
    const b = await compress('b', ...args);
    const c = await compress('c', ...args, '--calib-seed', '1');
    expect(a.model.equals(b.model)).toBe(true);
    expect(a.model.equals(c.model)).toBe(false);
    expect(a.report.calibration).toMatchObject({
      name: 'tinystories_calibration.txt',
      windows: 8,
      windowLength: 512,
      tokens: 8 * 512,
      seed: 0,
      available: 1189,
      kernels: 'wasm',
      awqAlpha: null,
    });
    expect(c.report.calibration).toMatchObject({ seed: 1 });
    const kinds = new Set(
      (a.report.tensors as { name: string; kind: string }[]).filter((t) => t.name.endsWith('_proj.weight')).map((t) => t.kind),
    );
    expect([...kinds]).toEqual(['gptq-int4-g32-asym']);
  });

  it('a recipe that needs calibration uses the built-in English sample when no --calib is given, and the result evaluates', async () => {
    const r = await compress('builtin', '--recipe', 'awq-int4-g32');
    expect(r.report.calibration).toMatchObject({ name: 'built-in: english-sample.txt', seed: 0 });
    const e = await runCli(['eval', join(work, 'builtin'), '--text', fixtureTextPath('tinystories_sample.txt')]);
    expect(e.code, e.stderr).toBe(0);
    const { ppl } = splitOutput(e.stdout).json as { ppl: number };
    expect(ppl).toBeGreaterThan(3.548); // fp32's, from the fixtures README: 4 bits cost something ...
    expect(ppl).toBeLessThan(3.548 * 1.2); // ... about what round-to-nearest costs (1.15), calibrated on English rather than stories
  });

  it('round-to-nearest ignores calibration text: the same bytes with or without --calib', async () => {
    const plain = await compress('rtn', '--recipe', 'int4-g32');
    const given = await compress('rtn-calib', '--recipe', 'int4-g32', '--calib', CALIB);
    expect(plain.model.equals(given.model)).toBe(true);
    expect(given.report.calibration).toBeNull();
  });
});

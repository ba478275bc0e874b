import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, pipeline } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import type { ShrinkrayReport } from '../../src/compress/report.ts';
import { loadEngine } from '../../src/node/load-engine.ts';
import { BUDGET } from '../error-budgets.ts';
import { fixtureTextPath } from './fixture-paths.ts';
import { teacherForcedLogits, worstRowDiff } from './logit-diff.ts';
import { transformersJsGreedy } from './transformers-js-logits.ts';

/**
 * A `bits{X}` folder from the command line, as a user gets it: shrinkray.json lists the
 * width of each matrix, and the graph with several MatMulNBits widths (and block sizes)
 * runs alike on transformers.js (onnxruntime-node in Node), onnxruntime-web and the CPU
 * engine: the same logits along a greedy decode, each runtime within its named budget.
 */
const root = join(import.meta.dirname, '..', '..');
const source = join(root, 'public', 'models', 'stories260K');
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'shrinkray-mixed-'));
  const w = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const args = ['compress', source, '--recipe', 'bits4', '--out', join(tmp, 'bits4')];
    // 8 windows keep this short; the bars on the default 128 are in mixed-precision-stories.test.ts.
    expect(await main([...args, '--calib', fixtureTextPath('tinystories_calibration.txt'), '--calib-windows', '8'])).toBe(0);
  } finally {
    w.mockRestore();
  }
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = tmp + '/';
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('a bits4 folder written by the CLI', { timeout: 600_000 }, () => {
  it('reports a width per matrix within the budget, of more than one kind', async () => {
    const report = JSON.parse(await readFile(join(tmp, 'bits4', 'shrinkray.json'), 'utf8')) as ShrinkrayReport;
    const m = report.mixedPrecision!;
    expect(report.recipe).toBe('bits4');
    expect(m.widths).toHaveLength(35);
    expect(m.bytes).toBeLessThanOrEqual(m.budget);
    expect(m.budget).toBe(Math.floor((4 * m.weights) / 8));
    expect(new Set(m.widths.map((w) => w.width)).size).toBeGreaterThan(1);
    expect(report.calibration).toMatchObject({ windows: 8, tokens: 8 * 512 });
  });

  it('transformers.js, onnxruntime-web and the CPU engine agree on the logits of a greedy decode, each within its budget', async () => {
    const generator = await pipeline('text-generation', 'bits4', { device: 'cpu' });
    const { promptIds, continuation, rows: theirs } = await transformersJsGreedy(generator, 'Once upon a time', 30);
    await generator.dispose();
    expect(continuation).toHaveLength(30);
    // Each runtime is fed transformers.js's tokens, so a near-tie broken the other way (other
    // kernels, other summation order) does not end the comparison: every row is compared.
    const rows: Partial<Record<'onnx' | 'cpu', Float32Array[]>> = {};
    for (const engine of ['onnx', 'cpu'] as const) {
      const e = await loadEngine(join(tmp, 'bits4'), { engine });
      try {
        expect(e.kind).toBe(engine);
        expect(e.fallback).toBeUndefined();
        rows[engine] = await teacherForcedLogits(e.model, promptIds, continuation);
      } finally {
        await e.dispose();
      }
    }
    const web = worstRowDiff(rows.onnx!, theirs);
    expect(web.diff, `onnxruntime-web vs transformers.js at step ${web.row}`).toBeLessThanOrEqual(BUDGET.onnxWebVsNodeLogits);
    const cpu = worstRowDiff(rows.cpu!, rows.onnx!);
    expect(cpu.diff, `CPU engine vs onnxruntime-web at step ${cpu.row}`).toBeLessThanOrEqual(BUDGET.engineQ8VsOnnxLogits);
    expect(cpu.diff).toBeGreaterThan(0); // Q8 activations: a zero would mean the engine was not the one measured
  });
});

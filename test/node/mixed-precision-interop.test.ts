import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, pipeline } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import type { ShrinkrayReport } from '../../src/compress/report.ts';
import { generate } from '../../src/runtime/generate.ts';
import { loadEngine } from '../../src/node/load-engine.ts';
import { fixtureTextPath } from './fixture-paths.ts';

/**
 * A `bits{X}` folder from the command line, as a user gets it: shrinkray.json lists the
 * width of each matrix, and the graph with several MatMulNBits widths (and block sizes)
 * runs token for token alike on transformers.js (onnxruntime-node in Node), onnxruntime-web
 * and the CPU engine.
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
}, 600_000);
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

  it('transformers.js, onnxruntime-web and the CPU engine decode the same greedy tokens', async () => {
    const generator = await pipeline('text-generation', 'bits4', { device: 'cpu' });
    const ids = generator.tokenizer('Once upon a time', { add_special_tokens: true });
    const promptIds = Array.from(ids.input_ids.data as BigInt64Array, Number);
    const out = await generator.model.generate({ ...ids, max_new_tokens: 30, do_sample: false });
    const theirs = Array.from((out as { data: BigInt64Array }).data, Number).slice(promptIds.length);
    await generator.dispose();
    for (const engine of ['onnx', 'cpu'] as const) {
      const e = await loadEngine(join(tmp, 'bits4'), { engine });
      try {
        expect(e.kind).toBe(engine);
        expect(e.fallback).toBeUndefined();
        const ours = await generate(e.model, promptIds, { maxNewTokens: 30, temperature: 0, stopTokenIds: [2] });
        expect(ours.ids).toEqual(theirs);
      } finally {
        await e.dispose();
      }
    }
  });
});

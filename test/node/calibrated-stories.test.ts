import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { wasmCalibBackend, type CalibBackend } from '../../src/compress/calib-backend.ts';
import { calibrationWindows, DEFAULT_WINDOW_COUNT } from '../../src/compress/calibration-windows.ts';
import { compressModel, type CompressResult } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { createPruner, type Pruner } from '../../src/kernels/prune/index.ts';
import { createRtnQuantizer, type RtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { loadCalibWasmNode, loadPruneWasmNode, loadQuantizeWasmNode } from '../../src/node/kernel-wasm-node.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { evaluatePerplexity } from '../../src/runtime/perplexity.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { BUDGET } from '../error-budgets.ts';
import { lcgRng } from '../seeded-random.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';

/**
 * The calibrated methods on the real stories260K model, as issue 11 asks: calibrated only on
 * tinystories_calibration.txt (seed 0: GPTQ with the default 128 windows of 512 tokens, the
 * others with 32 to keep this test short), measured on the first 100
 * stories of tinystories_eval.txt (31,677 tokens) on onnxruntime-web, each against the
 * round-to-nearest or magnitude baseline computed here at the same setting. The full table,
 * with sizes and times, comes from `npm run bench:quality`; this asserts the bars.
 */
let ir: ModelIR;
let tokenizer: TextTokenizer;
let windows: Int32Array[]; // 32
let gptqWindows: Int32Array[]; // the default 128: with 32, int4-g32-asym lands within ±0.004 of its 1.04 bar depending on the windows drawn
let kernels: { quantizer: RtnQuantizer; pruner: Pruner; backend: CalibBackend };
const evalText = readFileSync(fixtureTextPath('tinystories_eval.txt'), 'utf8');
const ppl = new Map<string, number>();

beforeAll(async () => {
  const folder = await loadModelFolder(STORIES_DIR);
  ir = folder.ir;
  tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, ir.config);
  const text = readFileSync(fixtureTextPath('tinystories_calibration.txt'), 'utf8');
  gptqWindows = calibrationWindows(text, (d) => tokenizer.encode(d, { addBos: true }), {
    windowLength: 512,
    count: DEFAULT_WINDOW_COUNT,
    seed: 0,
  }).windows;
  windows = gptqWindows.filter((_, i) => i % 4 === 0); // 32 of them
  kernels = {
    quantizer: await createRtnQuantizer({ wasm: await loadQuantizeWasmNode() }),
    pruner: await createPruner({ wasm: await loadPruneWasmNode() }),
    backend: wasmCalibBackend(await loadCalibWasmNode()),
  };
});

async function compress(recipe: string, o: { calibrate?: boolean; scores?: () => number } = {}): Promise<CompressResult> {
  const plan = planCompression(parseRecipe(recipe), ir.config, { calibrationText: o.calibrate ?? true });
  const c = ir.config;
  const rnd = o.scores;
  return compressModel(ir, plan, {
    quantizer: kernels.quantizer,
    pruner: kernels.pruner,
    ...(plan.calibrate
      ? { calibration: { windows: plan.recipe.quant?.method === 'gptq' ? gptqWindows : windows, backend: kernels.backend } }
      : {}),
    ...(rnd
      ? {
          structuredScores: () => ({
            ffn: Float32Array.from({ length: c.intermediateSize }, rnd),
            groups: Float32Array.from({ length: c.numKvHeads }, rnd),
          }),
        }
      : {}),
  });
}

/** Perplexity on the first 100 eval stories, stored under `key`. */
async function measure(key: string, result: CompressResult): Promise<number> {
  const lm = await createOnnxCausalLM(result.config, result.built.model, [], { device: 'wasm' });
  try {
    const r = await evaluatePerplexity(lm, tokenizer, evalText, { maxDocs: 100 });
    expect(r.tokens).toBe(31_677);
    ppl.set(key, r.ppl);
    return r.ppl;
  } finally {
    await lm.dispose();
  }
}

const ratio = (key: string) => ppl.get(key)! / ppl.get('fp32')!;
/** The share of `baseline`'s gap to fp32 that `method` closes. */
const closes = (method: string, baseline: string) => (ratio(baseline) - ratio(method)) / (ratio(baseline) - 1);

// Each test runs up to six calibrated compressions and 31,677-token evaluations: 30-60 s on a quiet
// 2-core machine, over 120 s when others share it. A generous limit; no figure here is a time.
describe('stories260K, calibrated on the calibration stories, scored on the first 100 eval stories', { timeout: 900_000 }, () => {
  it('fp32 and the round-to-nearest baselines reproduce the independent figures', async () => {
    expect(Math.abs((await measure('fp32', await compress('fp32'))) - 3.366)).toBeLessThan(BUDGET.pplVsFixture);
    for (const r of ['int4-g32', 'int4-g32-asym', 'int3-g32-asym']) await measure(r, await compress(r));
    expect(ratio('int4-g32')).toBeCloseTo(1.136, 2);
    expect(ratio('int4-g32-asym')).toBeCloseTo(1.081, 2);
    expect(Math.abs(ratio('int3-g32-asym') - 1.77)).toBeLessThan(0.03); // the 3-bit codes run from the 4-bit container
  });

  it('GPTQ closes at least half of round-to-nearest’s gap: int4-g32-asym ≤ 1.04, int3-g32-asym ≤ 1.39', async () => {
    for (const r of ['gptq-int4-g32-asym', 'gptq-int3-g32-asym', 'gptq-int4-g32']) {
      const result = await compress(r);
      expect(result.calibration).toMatchObject({ windows: 128, tokens: 128 * 512, kernels: 'wasm' });
      await measure(r, result);
    }
    expect(ratio('gptq-int4-g32-asym')).toBeLessThanOrEqual(1.04);
    expect(ratio('gptq-int3-g32-asym')).toBeLessThanOrEqual(1.39);
    for (const s of ['int4-g32-asym', 'int3-g32-asym', 'int4-g32']) expect(closes(`gptq-${s}`, s)).toBeGreaterThanOrEqual(0.5);
  });

  it('AWQ closes at least a quarter of round-to-nearest’s gap at 4 bits', async () => {
    const result = await compress('awq-int4-g32');
    expect(result.calibration!.awqAlpha).toHaveLength(5);
    await measure('awq-int4-g32', result);
    expect(closes('awq-int4-g32', 'int4-g32')).toBeGreaterThanOrEqual(0.25);
  });

  it('Wanda and SparseGPT at 50% are far below magnitude pruning; at 2:4 SparseGPT ≤ Wanda < magnitude', async () => {
    for (const r of ['mag50', 'wanda50', 'sparsegpt50', '2:4', 'wanda-2:4', 'sparsegpt-2:4']) {
      const result = await compress(r);
      const linears = result.tensors.filter((t) => /_proj\.weight$/.test(t.name));
      for (const t of linears) expect(t.sparsity).toBeCloseTo(0.5, 2);
      await measure(r, result);
    }
    expect(ppl.get('wanda50')!).toBeLessThan(0.7 * ppl.get('mag50')!);
    expect(ppl.get('sparsegpt50')!).toBeLessThan(0.7 * ppl.get('mag50')!);
    expect(ppl.get('sparsegpt-2:4')!).toBeLessThanOrEqual(ppl.get('wanda-2:4')!);
    expect(ppl.get('wanda-2:4')!).toBeLessThan(ppl.get('2:4')!);
  });

  it('activation-scored ffn25 beats the weight-norm scores and the median of five random channel choices', async () => {
    await measure('ffn25 activations', await compress('ffn25'));
    await measure('ffn25 weight norms', await compress('ffn25', { calibrate: false }));
    const random: number[] = [];
    for (let seed = 1; seed <= 5; seed++)
      random.push(await measure(`ffn25 random ${seed}`, await compress('ffn25', { calibrate: false, scores: lcgRng(seed) })));
    const median = random.sort((a, b) => a - b)[2]!;
    expect(ppl.get('ffn25 activations')!).toBeLessThan(ppl.get('ffn25 weight norms')!);
    expect(ppl.get('ffn25 activations')!).toBeLessThan(median);
  });
});

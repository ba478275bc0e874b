import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressModel } from '../../src/compress/pipeline.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { CausalLM } from '../../src/model/causal-lm.ts';
import { engineModulesNode, nodeThreadSpawner } from '../../src/node/engine-node.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { tokenDistribution, type SamplerOptions } from '../../src/runtime/sampler.ts';
import { generateDrafted } from '../../src/runtime/speculative.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { STORIES_DIR } from './fixture-paths.ts';
import { plan } from './plan-recipe.ts';

/**
 * Speculative sampling must draw each token from the original's distribution, whatever the
 * draft proposes. On stories260K (the original on the CPU engine, drafted by its int4-g32 copy,
 * which keeps 75-90% of the mass here: both branches of the rule run), 3 tokens at temperature 1 with top-k 3: 27 possible sequences,
 * whose exact probabilities come from the original's own logits. 4000 seeded runs must fit
 * them (chi-square at p = 0.001), and must not fit the draft's own distribution (the test can fail).
 */
const OPTS: SamplerOptions = { temperature: 1, topK: 3 };
const RUNS = 4000;
let target: CausalLM;
let draft: CausalLM;
let prompt: number[];

beforeAll(async () => {
  const source = await loadModelFolder(STORIES_DIR);
  const tokenizer = new TextTokenizer(source.tokenizerJson, source.tokenizerConfig, source.ir.config);
  prompt = tokenizer.encode('Once upon a time, Tom', { addBos: true });
  const modules = await engineModulesNode();
  const loader = () => CpuModelLoader.create(modules, { threads: 1, spawner: nodeThreadSpawner });
  target = await (await loader()).fromIR(source.ir);
  const r = await compressModel(source.ir, plan('int4-g32', source.ir.config), { quantizer: await createRtnQuantizer() });
  const d = await (await loader()).fromGraph(r.config, { name: 'int4-g32/model.onnx', model: r.built.model, externalData: [] });
  if ('unsupported' in d) throw new Error(String(d.unsupported));
  draft = d;
});
afterAll(async () => {
  await target.dispose();
  await draft.dispose();
});

/** The exact probability of every 3-token continuation under `model`'s sampling distribution. */
async function exact(model: CausalLM): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const next = async (seq: number[]) =>
    tokenDistribution((await model.forward(model.createState(), seq)).slice(-model.config.vocabSize), OPTS, seq);
  const p1 = await next(prompt);
  for (const [a, pa] of p1.entries()) {
    if (pa === 0) continue;
    const p2 = await next([...prompt, a]);
    for (const [b, pb] of p2.entries()) {
      if (pb === 0) continue;
      const p3 = await next([...prompt, a, b]);
      for (const [c, pc] of p3.entries()) if (pc > 0) out.set(`${a},${b},${c}`, pa * pb * pc);
    }
  }
  return out;
}

/** Pearson's chi-square of `counts` against `probs` (cells expected below 5 pooled), and its critical value at p = 0.001. */
function chiSquare(counts: Map<string, number>, probs: Map<string, number>, n: number): { chi2: number; critical: number } {
  let chi2 = 0;
  let cells = 0;
  let pooledExpected = 0;
  let pooledCount = 0;
  for (const [key, p] of probs) {
    const e = p * n;
    const o = counts.get(key) ?? 0;
    if (e < 5) {
      pooledExpected += e;
      pooledCount += o;
    } else {
      chi2 += (o - e) ** 2 / e;
      cells++;
    }
  }
  const unseen = [...counts].filter(([key]) => !probs.has(key)).reduce((s, [, c]) => s + c, 0);
  pooledCount += unseen;
  if (pooledExpected > 0 || pooledCount > 0) {
    chi2 += (pooledCount - pooledExpected) ** 2 / Math.max(pooledExpected, 1e-9);
    cells++;
  }
  // Wilson-Hilferty: the chi-square quantile from the normal one (z = 3.09 for p = 0.001).
  const df = cells - 1;
  const critical = df * (1 - 2 / (9 * df) + 3.09 * Math.sqrt(2 / (9 * df))) ** 3;
  return { chi2, critical };
}

describe('speculative sampling', () => {
  it('draws 3-token continuations with the original distribution, not the draft one', async () => {
    const counts = new Map<string, number>();
    let proposed = 0;
    let accepted = 0;
    for (let seed = 1; seed <= RUNS; seed++) {
      const r = await generateDrafted(target, draft, prompt, { ...OPTS, seed, maxNewTokens: 3, draftTokens: 2 });
      const key = r.ids.join();
      counts.set(key, (counts.get(key) ?? 0) + 1);
      proposed += r.proposed;
      accepted += r.accepted;
    }
    // Both branches of the rule ran many times: kept proposals and drawn corrections.
    expect(accepted).toBeGreaterThan(RUNS / 20);
    expect(proposed - accepted).toBeGreaterThan(RUNS / 20);
    const fit = chiSquare(counts, await exact(target), RUNS);
    const wrong = chiSquare(counts, await exact(draft), RUNS);
    console.log(
      `speculative sampling: acceptance ${(accepted / proposed).toFixed(3)}; chi-square ${fit.chi2.toFixed(1)} against the original ` +
        `(critical ${fit.critical.toFixed(1)}), ${wrong.chi2.toFixed(1)} against the draft (critical ${wrong.critical.toFixed(1)})`,
    );
    expect(fit.chi2).toBeLessThan(fit.critical);
    expect(wrong.chi2).toBeGreaterThan(wrong.critical);
  });

  it('is reproducible with a seed', async () => {
    const run = () => generateDrafted(target, draft, prompt, { temperature: 0.8, topP: 0.9, seed: 7, maxNewTokens: 30, draftTokens: 3 });
    expect((await run()).ids).toEqual((await run()).ids);
  });
});

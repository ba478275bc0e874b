// stories260K int4-g32 on the CPU engine in a page, for the builds-and-threads comparisons in
// Chromium (test/browser/engine-simd.test.ts) and Firefox (test/firefox/numerics-page.ts).
import { compressModel } from '../src/compress/pipeline.ts';
import { planCompression } from '../src/compress/plan.ts';
import { parseRecipe } from '../src/compress/recipe.ts';
import type { CpuCausalLM } from '../src/engine/cpu-causal-lm.ts';
import { CpuModelLoader } from '../src/engine/cpu-model-loader.ts';
import type { EngineModules } from '../src/engine/engine-module.ts';
import { createRtnQuantizer } from '../src/kernels/quantize/index.ts';
import type { ModelConfig } from '../src/model/config.ts';
import type { ModelIR } from '../src/model/ir.ts';
import { argmax } from '../src/runtime/sampler.ts';

export interface BuiltGraph {
  config: ModelConfig;
  model: Uint8Array;
}

/** The int4-g32 graph of `ir`, built in the page. */
export async function int4Graph(ir: ModelIR): Promise<BuiltGraph> {
  const r = await compressModel(ir, planCompression(parseRecipe('int4-g32'), ir.config), { quantizer: await createRtnQuantizer() });
  return { config: r.config, model: r.built.model };
}

/** The graph on the engine built from `modules`, with `threads` threads. */
export async function openGraph(modules: EngineModules, threads: number, g: BuiltGraph): Promise<CpuCausalLM> {
  const m = await (
    await CpuModelLoader.create(modules, { threads })
  ).fromGraph(g.config, { name: 'int4-g32', model: g.model, externalData: [] });
  if ('unsupported' in m) throw new Error(m.unsupported);
  return m;
}

/** Logits of a prefill and 12 greedy steps; the model is disposed after. */
export async function greedyLogits(m: CpuCausalLM): Promise<Float32Array[]> {
  const s = m.createState();
  const out = [await m.forward(s, [1, 403, 407, 261, 378, 300, 301])];
  for (let i = 0; i < 12; i++) out.push(await m.forward(s, [argmax(out.at(-1)!.subarray(-m.config.vocabSize))]));
  await m.dispose();
  return out;
}

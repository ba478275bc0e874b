import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config.ts';
import type { ModelIR, TensorHandle } from '../../src/model/ir.ts';
import { tensorNames } from '../../src/model/tensor-table.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { evaluatePerplexity } from '../../src/runtime/perplexity.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { planCompression, type CompressionPlan } from '../../src/compress/plan.ts';
import { modelTensors } from '../../src/model/tensor-table.ts';
import { applyMask, magnitudeMask } from '../../src/kernels/prune/magnitude.ts';
import { nmMask, satisfiesNm } from '../../src/kernels/prune/n-m.ts';
import { pruneLayerStructured } from '../../src/compress/structured-prune.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';

/**
 * Pruning on the real stories260K model (5 layers, GQA 8 heads / 4 KV heads, FFN 172),
 * driven by the plan the way the compress pipeline walks it, and run through the fp32
 * reference forward pass.
 */

function irOf(config: ModelConfig, tensors: ReadonlyMap<string, Float32Array>): ModelIR {
  const handles = new Map<string, TensorHandle>();
  for (const t of modelTensors(config)) {
    const data = tensors.get(t.name)!;
    handles.set(t.name, { name: t.name, dtype: 'F32', shape: t.shape, byteLength: data.byteLength, read: async () => data });
  }
  return { config, tensors: handles };
}

/** Structured pruning per layer, then the masks: steps 1 and 2 of the plan (no quantization). */
function applyPlan(plan: CompressionPlan, full: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map(full);
  if (plan.structured) {
    for (let l = 0; l < plan.configIn.numLayers; l++) {
      for (const [name, data] of pruneLayerStructured(plan.configIn, l, full, plan.structured).tensors) out.set(name, data);
    }
  }
  for (const t of plan.tensors) {
    if (!t.mask) continue;
    const w = Float32Array.from(out.get(t.name)!);
    const [N, K] = t.shape as [number, number];
    const mask = t.mask.kind === 'nm' ? nmMask(w, N, K, t.mask, t.name) : magnitudeMask(w, N, K, { sparsity: t.mask.sparsity, scope: t.mask.scope }, t.name);
    out.set(t.name, applyMask(w, mask));
  }
  return out;
}

let config: ModelConfig;
let full: Map<string, Float32Array>;
let tokenizer: TextTokenizer;
const sample = readFileSync(fixtureTextPath('tinystories_sample.txt'), 'utf8');

beforeAll(async () => {
  const folder = await loadModelFolder(STORIES_DIR);
  config = folder.ir.config;
  tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, config);
  full = new Map();
  for (const [name, handle] of folder.ir.tensors) full.set(name, await handle.read());
});

describe('structured pruning on stories260K', () => {
  it('the pruned model computes what the full model computes with the removed channels and heads zeroed', async () => {
    const plan = planCompression(parseRecipe('ffn25+heads25'), config);
    expect(plan.configOut).toMatchObject({ intermediateSize: 129, numHeads: 6, numKvHeads: 3 });
    const prunedTensors = applyPlan(plan, full);
    const zeroed = new Map(full);
    const qDim = config.numHeads * config.headDim;
    for (let l = 0; l < config.numLayers; l++) {
      const { keptChannels, keptGroups } = pruneLayerStructured(config, l, full, plan.structured!);
      const n = tensorNames.layer(l);
      const down = Float32Array.from(full.get(n.down)!); // [dim, ffn]
      const o = Float32Array.from(full.get(n.o)!); // [dim, heads*headDim]
      for (let r = 0; r < config.hiddenSize; r++) {
        for (let c = 0; c < config.intermediateSize; c++) if (!keptChannels.includes(c)) down[r * config.intermediateSize + c] = 0;
        for (let c = 0; c < qDim; c++) if (!keptGroups.includes(Math.floor(c / config.headDim / 2))) o[r * qDim + c] = 0;
      }
      zeroed.set(n.down, down);
      zeroed.set(n.o, o);
    }
    const ids = [1, ...tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved to play outside.')];
    const pruned = await ReferenceModel.load(irOf(plan.configOut, prunedTensors));
    const reference = await ReferenceModel.load(irOf(config, zeroed));
    const got = await pruned.forward(pruned.createState(), ids);
    const want = await reference.forward(reference.createState(), ids);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
  });
});

describe('perplexity after pruning (tinystories_sample.txt)', () => {
  const ppl = new Map<string, number>();
  for (const recipe of ['fp32', 'mag10', 'mag50', '2:4', 'ffn25', 'heads25']) {
    it(recipe, async () => {
      const plan = planCompression(parseRecipe(recipe), config);
      const tensors = applyPlan(plan, full);
      if (recipe === '2:4') {
        for (const t of plan.tensors.filter((x) => x.role === 'linear')) expect(satisfiesNm(tensors.get(t.name)!, t.shape[0]!, t.shape[1]!, { n: 2, m: 4 })).toBe(true);
      }
      const model = await ReferenceModel.load(irOf(plan.configOut, tensors));
      const result = await evaluatePerplexity(model, tokenizer, sample);
      ppl.set(recipe, result.ppl);
      console.log(`stories260K ${recipe}: ppl ${result.ppl.toFixed(3)} over ${result.tokens} tokens; bytes ${plan.bytesIn} -> ${plan.bytesOut}`);
      if (recipe === 'fp32') expect(result.ppl).toBeCloseTo(3.548, 2); // the fixtures README figure
    });
  }
  it('orders as expected: light pruning costs little, heavy and structured pruning cost more', () => {
    const base = ppl.get('fp32')!;
    expect(ppl.get('mag10')! / base).toBeLessThan(1.05);
    expect(ppl.get('mag50')!).toBeGreaterThan(ppl.get('mag10')!);
    for (const r of ['mag50', '2:4', 'ffn25', 'heads25']) expect(ppl.get(r)!).toBeGreaterThan(base);
  });
});

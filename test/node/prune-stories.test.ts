import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compressModel, type CompressResult } from '../../src/compress/pipeline.ts';
import { pruneLayerStructured } from '../../src/compress/structured-prune.ts';
import { createPruner } from '../../src/kernels/prune/index.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import type { ModelIR, TensorHandle } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { modelTensors, tensorNames } from '../../src/model/tensor-table.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { loadPruneWasmNode } from '../../src/node/kernel-wasm-node.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { evaluatePerplexity } from '../../src/runtime/perplexity.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { BUDGET } from '../error-budgets.ts';
import { maxAbsDiff } from './logit-diff.ts';
import { plan } from './plan-recipe.ts';

/**
 * Pruning on the real stories260K model (5 layers, GQA 8 heads / 4 KV heads, FFN 172),
 * through the compression pipeline (compressModel with the WASM pruning kernel) and run on
 * onnxruntime-web, as the CLI and the compress worker run it.
 */

let ir: ModelIR;
let config: ModelConfig;
let tokenizer: TextTokenizer;
const sample = readFileSync(fixtureTextPath('tinystories_sample.txt'), 'utf8');
const FP32_PPL = 3.548; // the fixtures README figure

beforeAll(async () => {
  const folder = await loadModelFolder(STORIES_DIR);
  ir = folder.ir;
  config = ir.config;
  tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, config);
});

async function compress(recipe: string): Promise<CompressResult> {
  return compressModel(ir, plan(recipe, config), {
    quantizer: await createRtnQuantizer(),
    pruner: await createPruner({ wasm: await loadPruneWasmNode() }),
  });
}

async function pplOf(result: CompressResult): Promise<number> {
  const lm = await createOnnxCausalLM(result.config, result.built.model, [], { device: 'wasm' });
  try {
    return (await evaluatePerplexity(lm, tokenizer, sample)).ppl;
  } finally {
    await lm.dispose();
  }
}

function irOf(c: ModelConfig, tensors: ReadonlyMap<string, Float32Array>): ModelIR {
  const handles = new Map<string, TensorHandle>();
  for (const t of modelTensors(c)) {
    const data = tensors.get(t.name)!;
    handles.set(t.name, { name: t.name, dtype: 'F32', shape: t.shape, byteLength: data.byteLength, read: async () => data });
  }
  return { config: c, tensors: handles };
}

describe('structured pruning on stories260K', () => {
  it('the pruned model computes what the full model computes with the removed channels and heads zeroed', async () => {
    const result = await compress('ffn25+heads25');
    expect(result.config).toMatchObject({ intermediateSize: 129, numHeads: 6, numKvHeads: 3 });
    const full = new Map<string, Float32Array>();
    for (const [name, handle] of ir.tensors) full.set(name, await handle.read());
    const zeroed = new Map(full);
    const qDim = config.numHeads * config.headDim;
    for (let l = 0; l < config.numLayers; l++) {
      const { keptChannels, keptGroups } = pruneLayerStructured(config, l, full, result.plan.structured!);
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
    const pruned = await createOnnxCausalLM(result.config, result.built.model, [], { device: 'wasm' });
    const reference = await ReferenceModel.load(irOf(config, zeroed));
    const got = await pruned.forward(pruned.createState(), ids);
    await pruned.dispose();
    expect(maxAbsDiff(got, await reference.forward(reference.createState(), ids))).toBeLessThan(BUDGET.prunedVsZeroed);
    expect(result.paramsOut).toBeLessThan(result.paramsIn);
  });
});

describe('perplexity after pruning (tinystories_sample.txt)', () => {
  const ppl = new Map<string, number>();
  const linearSparsity = (r: CompressResult) => {
    const linears = r.tensors.filter((t) => r.plan.tensors.find((p) => p.name === t.name)?.role === 'linear');
    expect(linears).toHaveLength(7 * config.numLayers);
    return linears.map((t) => t.sparsity);
  };

  it('fp32 keeps the fixture model as it is', async () => {
    const r = await compress('fp32');
    ppl.set('fp32', await pplOf(r));
    expect(ppl.get('fp32')).toBeCloseTo(FP32_PPL, 2);
    expect(new Set(linearSparsity(r))).toEqual(new Set([0]));
  });

  it.each([
    ['mag10', 0.1],
    ['mag50', 0.5],
  ] as const)('%s zeroes that share of every output row', async (recipe, share) => {
    const r = await compress(recipe);
    for (const s of linearSparsity(r)) expect(s).toBeCloseTo(share, 1);
    ppl.set(recipe, await pplOf(r));
  });

  it('2:4 keeps exactly 2 of every 4 weights along the input', async () => {
    const r = await compress('2:4');
    expect(new Set(linearSparsity(r))).toEqual(new Set([0.5]));
    ppl.set('2:4', await pplOf(r));
  });

  it.each(['ffn25', 'heads25'])('%s removes parameters', async (recipe) => {
    const r = await compress(recipe);
    expect(r.paramsOut).toBeLessThan(r.paramsIn);
    ppl.set(recipe, await pplOf(r));
  });

  it('orders as expected: light pruning costs little, heavy and structured pruning cost more', () => {
    const base = ppl.get('fp32')!;
    expect(ppl.get('mag10')! / base).toBeLessThan(1.05);
    expect(ppl.get('mag50')!).toBeGreaterThan(ppl.get('mag10')!);
    for (const r of ['mag50', '2:4', 'ffn25', 'heads25']) expect(ppl.get(r)!).toBeGreaterThan(base);
  });
});

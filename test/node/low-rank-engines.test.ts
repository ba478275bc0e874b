import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';
import type { DenseWeight, NBitsWeight } from '../../src/build/linear-weight.ts';
import { wasmCalibBackend } from '../../src/compress/calib-backend.ts';
import { calibrationWindows } from '../../src/compress/calibration-windows.ts';
import { lowRankLinear } from '../../src/compress/low-rank.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import type { CpuCausalLM } from '../../src/engine/cpu-causal-lm.ts';
import type { EngineModules } from '../../src/engine/engine-module.ts';
import { createRtnQuantizer, dequantizeNBits, type RtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { CausalLM } from '../../src/model/causal-lm.ts';
import { lowRankNames, type ModelIR, type TensorHandle } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { engineModulesNode, nodeThreadSpawner } from '../../src/node/engine-node.ts';
import { loadCalibWasmNode } from '../../src/node/kernel-wasm-node.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { evaluatePerplexity } from '../../src/runtime/perplexity.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { BUDGET } from '../error-budgets.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { compareDecoding } from './logit-diff.ts';
import { plan } from './plan-recipe.ts';

/**
 * A low-rank graph (two MatMul / MatMulNBits products per linear layer) on the three engines:
 * the reference forward on an IR holding the very factors the graph stores (ir.ts
 * lowRankNames), onnxruntime-web, and the CPU engine on the same stored graph.
 */
let ir: ModelIR;
let tokenizer: TextTokenizer;
let modules: EngineModules;
let quantizer: RtnQuantizer;
let sample: string;
const opened: CausalLM[] = [];
beforeAll(async () => {
  const folder = await loadModelFolder(STORIES_DIR);
  ir = folder.ir;
  tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, ir.config);
  modules = await engineModulesNode();
  quantizer = await createRtnQuantizer();
  sample = await readFile(fixtureTextPath('tinystories_sample.txt'), 'utf8');
});
afterAll(async () => {
  for (const m of opened) await m.dispose();
});

const prompt = () => tokenizer.encode('Once upon a time, Tom found a red ball in the park.', { addBos: true });

/** What a stored factor multiplies by. */
function valuesOf(w: DenseWeight | NBitsWeight): Float32Array {
  if (w.kind === 'dense') return w.weight;
  return dequantizeNBits({ packed: w.packed, scales: w.scales, zeroPoints: w.zeroPoints ?? null }, w.outFeatures, w.inFeatures, w);
}

const handle = (name: string, shape: number[], data: Float32Array): TensorHandle => ({
  name,
  shape,
  dtype: 'F32',
  byteLength: data.byteLength,
  read: async () => data.slice(),
});

/** The recipe's graph built from our own hook, and the reference forward on the factors it stored. */
async function graphAndReference(recipe: string): Promise<{ onnx: CausalLM; ref: CausalLM; factored: number }> {
  const p = plan(recipe, ir.config);
  const rows = new Map(p.tensors.map((t) => [t.name, t]));
  const tensors = new Map(ir.tensors);
  const built = await buildOnnxDecoder(ir, {
    linear: async (name, w, N, K) => {
      const tp = rows.get(name)!;
      if (!tp.lowRank) return { kind: 'dense', storage: 'fp32', weight: w, outFeatures: N, inFeatures: K };
      const r = await lowRankLinear({ name, w, N, K, rank: tp.lowRank.rank, hessian: null, quant: tp.quant, storage: tp.dtype }, quantizer);
      const names = lowRankNames(name);
      tensors.delete(name);
      tensors.set(names.a, handle(names.a, [r.weight.rank, K], valuesOf(r.weight.a)));
      tensors.set(names.b, handle(names.b, [N, r.weight.rank], valuesOf(r.weight.b)));
      return r.weight;
    },
  });
  const onnx = await createOnnxCausalLM(ir.config, built.model, [], { device: 'wasm' });
  const ref = await ReferenceModel.load({ config: ir.config, tensors });
  opened.push(onnx);
  return { onnx, ref, factored: [...tensors.keys()].filter((n) => n.endsWith('.lowrank_a')).length };
}

describe('the reference forward on the factors vs onnxruntime-web on the two-product graph', () => {
  it.each(['lr50', 'lr75+int8-g16', 'lr75+int4-g16-asym'])(
    '%s: prefill and 8 decode steps within the exact-weights budget',
    async (recipe) => {
      const { onnx, ref, factored } = await graphAndReference(recipe);
      expect(factored).toBe(7 * ir.config.numLayers);
      const d = await compareDecoding(ref, onnx, prompt(), 8);
      expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.exactWeights);
    },
  );
});

describe('the CPU engine vs onnxruntime-web on the same stored low-rank graph', () => {
  async function bothEngines(recipe: string): Promise<{ ort: CausalLM; cpu: CpuCausalLM }> {
    const p = plan(recipe, ir.config);
    const calibration = p.calibrate
      ? {
          windows: calibrationWindows(sample, (d) => tokenizer.encode(d, { addBos: true }), { windowLength: 128, count: 8, seed: 0 })
            .windows,
          backend: wasmCalibBackend(await loadCalibWasmNode()),
        }
      : undefined;
    const r = await compressModel(ir, p, { quantizer, ...(calibration ? { calibration } : {}) });
    expect(r.tensors.filter((t) => t.kind.startsWith('lowrank-r')).length).toBe(7 * ir.config.numLayers);
    const ort = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
    const loader = await CpuModelLoader.create(modules, { spawner: nodeThreadSpawner });
    const cpu = await loader.fromGraph(r.config, { name: `${recipe}/model.onnx`, model: r.built.model, externalData: [] });
    if ('unsupported' in cpu) throw new Error(cpu.unsupported);
    opened.push(ort, cpu);
    return { ort, cpu };
  }

  it.each([
    ['lr50', BUDGET.engineVsOnnxFp32, BUDGET.enginePplVsOnnx],
    ['lr50+fp16', BUDGET.engineVsOnnxFp32, BUDGET.enginePplVsOnnx],
    ['lr75+int8-g16', BUDGET.engineQ8VsOnnxLogits, BUDGET.engineLowRankPplVsOnnx],
    ['lr75-act+int4-g16', BUDGET.engineQ8VsOnnxLogits, BUDGET.engineLowRankPplVsOnnx],
    ['ffn25+lr60', BUDGET.engineVsOnnxFp32, BUDGET.enginePplVsOnnx],
  ])('%s: prefill and 16 decode steps within %f of the logits, perplexity within %f relative', async (recipe, budget, pplBudget) => {
    const { ort, cpu } = await bothEngines(recipe);
    const d = await compareDecoding(ort, cpu, prompt(), 16);
    expect(d.prefill).toBeLessThan(budget);
    expect(d.decode).toBeLessThan(budget);
    const [a, b] = [await evaluatePerplexity(ort, tokenizer, sample), await evaluatePerplexity(cpu, tokenizer, sample)];
    expect(b.tokens).toBe(1804);
    expect(Math.abs(b.ppl / a.ppl - 1)).toBeLessThan(pplBudget);
  });
});

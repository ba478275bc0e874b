import { afterAll, describe, expect, it } from 'vitest';
import { compressModel } from '../../src/compress/pipeline.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { CausalLM } from '../../src/model/causal-lm.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { engineModulesNode } from '../../src/node/engine-node.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { BUDGET } from '../error-budgets.ts';
import { compareDecoding } from './logit-diff.ts';
import { plan } from './plan-recipe.ts';
import { randomLlamaIR, tinyConfig } from './random-llama.ts';

/**
 * The engine on what stories260K does not have, against onnxruntime-web on the same graph:
 * Qwen2's q/k/v biases with an untied classifier and widths that are no whole number of
 * blocks, and the fused graph's GroupQueryAttention (head size 64). Random weights: the
 * numbers are checked, not the text.
 */
const opened: CausalLM[] = [];
afterAll(async () => {
  for (const m of opened) await m.dispose();
});

async function pair(config: ModelConfig, recipe: string, ops: 'plain' | 'fused'): Promise<{ ort: CausalLM; cpu: CausalLM }> {
  const ir = randomLlamaIR(config, 3);
  const r = await compressModel(ir, plan(recipe, config), { quantizer: await createRtnQuantizer(), ops });
  const ort = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
  const cpu = await (
    await CpuModelLoader.create(await engineModulesNode())
  ).fromGraph(r.config, { name: recipe, model: r.built.model, externalData: [] });
  if ('unsupported' in cpu) throw new Error(cpu.unsupported);
  opened.push(ort, cpu);
  return { ort, cpu };
}

const prompt = [1, 5, 9, 30, 2, 17, 33, 4, 8];

describe('Qwen2-like: q/k/v biases, untied classifier, dim 24 (blocks padded)', () => {
  it.each([
    ['fp32', BUDGET.engineVsOnnxFp32],
    ['fp16', BUDGET.engineVsOnnxFp32],
    ['int8-g16', BUDGET.engineQ8VsOnnxLogits],
    ['int4-g16', BUDGET.engineQ8VsOnnxLogits],
    ['int4-g16-asym', BUDGET.engineQ8VsOnnxLogits],
    ['int2-g16-asym', BUDGET.engineQ8VsOnnxLogits],
  ])('%s, plain and fused graphs: prefill and 8 decode steps within %f', async (recipe, budget) => {
    for (const ops of ['plain', 'fused'] as const) {
      const { ort, cpu } = await pair(tinyConfig(), recipe, ops);
      const d = await compareDecoding(ort, cpu, prompt, 8);
      expect(Math.max(d.prefill, d.decode), `${recipe} ${ops}`).toBeLessThan(budget);
    }
  });
});

describe('GroupQueryAttention graphs (head size 64)', () => {
  const config = tinyConfig({
    hiddenSize: 128,
    numHeads: 2,
    numKvHeads: 1,
    headDim: 64,
    intermediateSize: 96,
    ropeTheta: 10000,
    maxPositionEmbeddings: 128,
  });

  it('fp32: the fused graph on the engine matches onnxruntime-web', async () => {
    const { ort, cpu } = await pair(config, 'fp32', 'fused');
    const d = await compareDecoding(ort, cpu, prompt, 8);
    expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.engineVsOnnxFp32);
  });

  it('int4-g32: the engine reads the fused and the plain graph to the same logits, bit for bit', async () => {
    // (This random model's activations are large enough that int8 rounding compounds over
    // decode steps: the quantized engine is checked against onnxruntime on stories260K.)
    const fused = (await pair(config, 'int4-g32', 'fused')).cpu;
    const plain = (await pair(config, 'int4-g32', 'plain')).cpu;
    const d = await compareDecoding(plain, fused, prompt, 8);
    expect([d.prefill, d.decode]).toEqual([0, 0]);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config.ts';
import { parseHfConfig, toHfConfig } from '../../src/model/hf-config.ts';
import { openHfModel } from '../../src/model/hf-model.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';
import { dropBlocksIr } from '../../src/compress/drop/drop-blocks.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import { engineModulesNode, nodeThreadSpawner } from '../../src/node/engine-node.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { compareDecoding, relativeLogitDiff } from './logit-diff.ts';
import { folderOpener } from '../../src/node/folder-opener.ts';
import { writeModelFolder } from '../../src/node/model-folder.ts';
import { modelTensors } from '../../src/model/tensor-table.ts';
import { BUDGET } from '../error-budgets.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { PUBLISHED } from '../published-configs.ts';
import { GEMMA3_270M, independentLogits, tinyConfigJson, writeTinyModel } from './arch-models.ts';

/**
 * Gemma 3 (Gemma3ForCausalLM): its config.json read and refused as transformers reads it, and each
 * of its features seen in the logits of a tiny bf16 model with gemma-3-270m-it's fields (a sliding
 * layer whose window, 8, is shorter than the 30 test positions, and a full layer, each with its
 * RoPE base): the same weights without the window, without (1 + w), without the sqrt(hidden)
 * scale, ... miss the independent float64 forward (test/independent/llama_family.py) by far more
 * than the budget. Every runner against that forward, prefill and decode: architectures.test.ts.
 */
const ids = Array.from({ length: 30 }, (_, i) => (i * 37 + 11) % 320);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shrinkray-gemma3-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tinyGemma(): Promise<{ dir: string; ir: ModelIR; raw: ModelIR }> {
  const dir = join(root, `gemma-${Math.random().toString(36).slice(2, 8)}`);
  await writeTinyModel(dir, tinyConfigJson(GEMMA3_270M), GEMMA3_270M.dtype);
  const { open, display } = folderOpener(dir);
  const { ir, weights } = await openHfModel(open, display);
  // The weights as stored, norms unfolded (w, not 1 + w): what a runner that forgot Gemma's unit offset would read.
  return { dir, ir, raw: { config: ir.config, tensors: weights.tensors } };
}

/** A flat [T * vocab] array's rows as number[][] (a reducer). */
const rows = (vocab: number) => (acc: number[][], v: number, i: number) => {
  if (i % vocab === 0) acc.push([]);
  acc[acc.length - 1]!.push(v);
  return acc;
};

describe('Gemma 3 config.json', () => {
  it('reads the published 270M and 1B configs: sliding and full layers, both RoPE bases, the window, the scale', () => {
    const small = parseHfConfig(PUBLISHED.gemma3_270m.json, '270m/config.json');
    const oneB = parseHfConfig(PUBLISHED.gemma3_1b.json, '1b/config.json');
    expect(small).toMatchObject({
      family: 'gemma3_text',
      hiddenAct: 'gelu_tanh',
      embeddingScale: Math.sqrt(640),
      sandwichNorms: true,
      qkNorm: true,
      queryPreAttnScalar: 256,
      slidingWindow: 512,
      ropeTheta: 1e6,
      ropeLocalTheta: 1e4,
      tieWordEmbeddings: true,
      vocabSize: 262144,
      bosTokenId: 2,
      eosTokenId: [1],
    });
    expect(small.ropeScaling).toBeUndefined();
    // layer_types as listed (270M) and derived from sliding_window_pattern 6 (1B): every sixth layer is full.
    const full = (c: ModelConfig) => Array.from({ length: c.numLayers }, (_, l) => l).filter((l) => !c.slidingLayers!.includes(l));
    expect(full(small)).toEqual([5, 11, 17]);
    expect(full(oneB)).toEqual([5, 11, 17, 23]);
    expect(oneB.eosTokenId).toEqual([1, 106]);
  });

  it('round-trips the config.json it writes, and reads 4B-style linear rope_scaling on the full layers', () => {
    for (const json of [PUBLISHED.gemma3_270m.json, PUBLISHED.gemma3_1b.json]) {
      const c = parseHfConfig(json, 'config.json');
      const written = toHfConfig(c);
      expect(written).toMatchObject({ model_type: 'gemma3_text', hidden_activation: 'gelu_pytorch_tanh', query_pre_attn_scalar: 256 });
      expect(written.hidden_act).toBeUndefined();
      expect(parseHfConfig(written, 'written/config.json')).toEqual(c);
    }
    const linear = parseHfConfig({ ...PUBLISHED.gemma3_1b.json, rope_scaling: { rope_type: 'linear', factor: 8 } }, 'config.json');
    expect(linear.ropeScaling).toEqual({ ropeType: 'linear', factor: 8 });
    expect(parseHfConfig(toHfConfig(linear), 'config.json')).toEqual(linear);
    // transformers 5 nests each layer type's RoPE in rope_parameters.
    const { rope_theta: _t, rope_local_base_freq: _l, rope_scaling: _s, ...v4 } = PUBLISHED.gemma3_1b.json as Record<string, unknown>;
    const v5 = parseHfConfig(
      {
        ...v4,
        rope_parameters: {
          full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 },
          sliding_attention: { rope_type: 'default', rope_theta: 1e4 },
        },
      },
      'config.json',
    );
    expect(v5).toEqual(linear);
  });

  it('refuses what is not implemented, naming config.json and the field', () => {
    const base = tinyConfigJson(GEMMA3_270M);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, attn_logit_softcapping: 50 }, /g\/config\.json: field 'attn_logit_softcapping' 50 is not supported \(soft-capping/],
      [{ ...base, final_logit_softcapping: 30 }, /field 'final_logit_softcapping' 30 is not supported/],
      [{ ...base, use_bidirectional_attention: true }, /field 'use_bidirectional_attention' true \(EmbeddingGemma/],
      [{ ...base, hidden_activation: 'gelu' }, /field 'hidden_activation' must be 'gelu_pytorch_tanh', got "gelu"/],
      [
        { ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } },
        /field 'rope_scaling' type "yarn" is not supported for Gemma3ForCausalLM/,
      ],
      [
        { ...base, layer_types: ['sliding_attention'] },
        /field 'layer_types' must list "sliding_attention" or "full_attention" for each of the 2 layers/,
      ],
    ];
    for (const [json, pattern] of cases) expectShrinkrayError(() => parseHfConfig(json, 'g/config.json'), 'bad_config', pattern);
    expectShrinkrayError(
      () => parseHfConfig({ ...base, architectures: ['Gemma3ForConditionalGeneration'] }, 'g/config.json'),
      'unsupported_architecture',
      /architecture 'Gemma3ForConditionalGeneration' is not supported \(not implemented: the vision tower/,
    );
  });
});

describe('Gemma 3 norms: (1 + w) folded where a checkpoint enters, w written back', () => {
  it('the IR reads 1 + w in fp32; a folder written from it holds w again, and reads back to the same IR', async () => {
    const { ir, raw } = await tinyGemma();
    const name = 'model.layers.0.pre_feedforward_layernorm.weight';
    const w = await raw.tensors.get(name)!.read();
    expect(await ir.tensors.get(name)!.read()).toEqual(w.map((v) => 1 + v));
    const dir = join(root, `written-${Math.random().toString(36).slice(2, 8)}`);
    await writeModelFolder(dir, { ir, tokenizerJson: {}, tokenizerConfig: {}, generationConfig: null });
    const { open, display } = folderOpener(dir);
    const again = await openHfModel(open, display);
    for (const t of modelTensors(ir.config).filter((t) => t.role === 'norm')) {
      expect(await again.weights.tensors.get(t.name)!.read(), t.name).toEqual(await raw.tensors.get(t.name)!.read());
      expect(await again.ir.tensors.get(t.name)!.read(), t.name).toEqual(await ir.tensors.get(t.name)!.read());
    }
  });
});

describe('Gemma 3, tiny, against the independent float64 forward', () => {
  it('each Gemma feature is seen in the logits: without it the same weights miss the independent forward', async () => {
    const { dir, ir, raw } = await tinyGemma();
    const want = (await independentLogits(dir, ids)).logits;
    const run = async (m: ModelIR) => {
      const model = await ReferenceModel.load(m);
      return relativeLogitDiff(await model.forward(model.createState(), ids), want);
    };
    const c = ir.config;
    const misses = {
      'as read': await run(ir),
      'no window': await run({ ...ir, config: { ...c, slidingWindow: undefined } }),
      'w, not 1 + w': await run(raw),
      'no sqrt(hidden) scale': await run({ ...ir, config: { ...c, embeddingScale: undefined } }),
      'rope_theta on the sliding layer': await run({ ...ir, config: { ...c, ropeLocalTheta: undefined } }),
      'head_dim^-0.5, not query_pre_attn_scalar^-0.5': await run({ ...ir, config: { ...c, queryPreAttnScalar: undefined } }),
      'SiLU, not tanh GELU': await run({ ...ir, config: { ...c, hiddenAct: undefined } }),
    };
    console.info(`Gemma 3 tiny, relative to the independent forward: ${JSON.stringify(misses)}`);
    const [asRead, ...without] = Object.entries(misses);
    expect(asRead![1]).toBeLessThan(BUDGET.independentVsEngineRelative);
    for (const [name, d] of without) expect(d, name).toBeGreaterThan(10 * BUDGET.independentVsEngineRelative);
  });
});

describe('Gemma 3, tiny: RTN recipes with the embedding quantized (most of a 270M model is its embedding)', () => {
  it.each(['int4-g32+emb4', 'int8+emb8', 'fp16'])(
    '%s: onnxruntime-web and the CPU engine run the result alike, near the float reference',
    async (recipe) => {
      const { ir } = await tinyGemma();
      const r = await compressModel(ir, planCompression(parseRecipe(recipe), ir.config), { quantizer: await createRtnQuantizer() });
      const ort = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
      const loader = await CpuModelLoader.create(await engineModulesNode(), { spawner: nodeThreadSpawner });
      const cpu = await loader.fromGraph(r.config, { name: `${recipe}/model.onnx`, model: r.built.model, externalData: [] });
      if ('unsupported' in cpu) throw new Error(cpu.unsupported);
      const d = await compareDecoding(ort, cpu, ids.slice(0, 24), 6);
      // The compressed model stays near the float one: the embedding scale and the tied classifier survive quantization.
      const float = await ReferenceModel.load(ir);
      const near = relativeLogitDiff(
        await ort.forward(ort.createState(), ids),
        (await float.forward(float.createState(), ids)).reduce<number[][]>(rows(ir.config.vocabSize), []),
      );
      console.info(
        `Gemma 3 tiny ${recipe}: engine vs onnxruntime-web ${JSON.stringify(d)}; vs the float reference ${near.toExponential(2)}`,
      );
      await ort.dispose();
      await cpu.dispose();
      expect(d.prefill).toBeLessThan(BUDGET.engineQ8VsOnnxLogits);
      expect(d.decode).toBeLessThan(BUDGET.engineQ8VsOnnxLogits);
      expect(near).toBeLessThan(recipe === 'fp16' ? 1e-3 : 0.25);
    },
  );
});

describe("Gemma 3's RoPE computed in the graph (no stored tables)", () => {
  it('the CPU engine turns by the same fp32 angles: onnxruntime-web and the engine agree up to the last positions of the context', async () => {
    const { ir } = await tinyGemma();
    const built = await buildOnnxDecoder(ir, { ops: 'fused' });
    // Only the inverse frequencies are stored ([headDim/2] for each base): the graph is its weights and a few KB
    // (stored cos and sin tables for the two bases would add 4 x [256, 16] floats = 64 KB here, 67 MB for the 270M's 32K context).
    const weights = built.tensors.reduce((s, t) => s + t.bytes, 0);
    expect(built.model.byteLength - weights).toBeLessThan(32 * 1024);
    const ort = await createOnnxCausalLM(ir.config, built.model, [], { device: 'wasm' });
    const loader = await CpuModelLoader.create(await engineModulesNode(), { spawner: nodeThreadSpawner });
    const cpu = await loader.fromGraph(ir.config, { name: 'gemma/model.onnx', model: built.model, externalData: [] });
    if ('unsupported' in cpu) throw new Error(cpu.unsupported);
    const long = Array.from({ length: 244 }, (_, i) => (i * 53 + 7) % 320);
    const d = await compareDecoding(ort, cpu, long, 10); // positions up to 253 of 256
    await ort.dispose();
    await cpu.dispose();
    console.info(`Gemma 3 tiny over 254 positions, engine vs onnxruntime-web: ${JSON.stringify(d)}`);
    expect(d.prefill).toBeLessThan(BUDGET.engineVsOnnxFp32);
    expect(d.decode).toBeLessThan(BUDGET.engineVsOnnxFp32);
  });
});

describe("Gemma 3's sliding layers through block removal", () => {
  it('the kept blocks keep their kind: renumbered in the config, in config.json, and through the pipeline', async () => {
    const { ir } = await tinyGemma();
    expect(ir.config.slidingLayers).toEqual([0]);
    const withoutBlock0 = dropBlocksIr(ir, [0]).config;
    expect([withoutBlock0.numLayers, withoutBlock0.slidingLayers]).toEqual([1, []]);
    expect(toHfConfig(withoutBlock0).layer_types).toEqual(['full_attention']);
    // drop1-last removes block 1, the full one: the sliding block stays sliding, with its window and local RoPE.
    const r = await compressModel(ir, planCompression(parseRecipe('drop1-last'), ir.config), { quantizer: await createRtnQuantizer() });
    expect([r.config.numLayers, r.config.slidingLayers]).toEqual([1, [0]]);
    expect(toHfConfig(r.config).layer_types).toEqual(['sliding_attention']);
    const kept = await ReferenceModel.load(dropBlocksIr(ir, [1]));
    const ort = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
    const want = (await kept.forward(kept.createState(), ids)).reduce<number[][]>(rows(r.config.vocabSize), []);
    const d = relativeLogitDiff(await ort.forward(ort.createState(), ids), want);
    await ort.dispose();
    expect(d).toBeLessThan(BUDGET.independentVsEngineRelative);
  });
});

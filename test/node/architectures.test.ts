import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';
import { referenceCalibBackend } from '../../src/compress/calib-backend.ts';
import { BlockRunner } from '../../src/compress/block-runner.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { createPruner } from '../../src/kernels/prune/index.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import type { CausalLM } from '../../src/model/causal-lm.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { openHfModel } from '../../src/model/hf-model.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { widenMatrix, widenRows } from '../../src/model/reference-half.ts';
import { widenLayer } from '../../src/model/reference-weights.ts';
import { linear, rmsNorm } from '../../src/model/reference-ops.ts';
import { layerRopeTables, scaleInPlace } from '../../src/model/reference-layer-ops.ts';
import { ropeInverseFrequencies } from '../../src/model/rope-frequencies.ts';
import { engineModulesNode, nodeThreadSpawner } from '../../src/node/engine-node.ts';
import { folderOpener } from '../../src/node/folder-opener.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { BUDGET } from '../error-budgets.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { createRng } from '../seeded-random.ts';
import { compareDecoding, relativeLogitDiff } from './logit-diff.ts';
import {
  GEMMA3_270M,
  independentLogits,
  LLAMA_32_1B,
  MISTRAL_7B_V01,
  MISTRAL_7B_V03,
  PHI35_MINI,
  PHI3_MINI_4K,
  PHI4_MINI,
  QWEN25_05B,
  QWEN3_06B,
  SMOLLM2_135M,
  SMOLLM3_3B,
  tinyConfigJson,
  writeTinyModel,
  type ArchCase,
} from './arch-models.ts';

/**
 * Each architecture, as a tiny random model with its published config fields, against an
 * independent numpy implementation of the published equations (test/independent/): the
 * reference forward pass, the ONNX graph on onnxruntime-web (plain ops and the fused
 * GroupQueryAttention variant) and the CPU engine on that same graph, for a prefill and for
 * decode steps through each engine's KV cache. Differences are relative to the largest
 * |logit| of the independent run.
 */
const PREFILL = 24;
const DECODE = 6;
const ids = Array.from({ length: PREFILL + DECODE }, (_, i) => (i * 37 + 11) % 320);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shrinkray-arch-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Prefill, then decode step by step; the worst relative difference of each phase. */
async function against(model: CausalLM, want: number[][]): Promise<{ prefill: number; decode: number }> {
  const s = model.createState();
  const prefill = relativeLogitDiff(await model.forward(s, ids.slice(0, PREFILL)), want, 0);
  let decode = 0;
  for (let t = PREFILL; t < ids.length; t++) decode = Math.max(decode, relativeLogitDiff(await model.forward(s, [ids[t]!]), want, t));
  return { prefill, decode };
}

async function tinyModel(c: ArchCase, configJson = tinyConfigJson(c)): Promise<{ dir: string; ir: ModelIR }> {
  const dir = join(root, `${c.name.replace('/', '_')}-${Math.random().toString(36).slice(2, 8)}`);
  await writeTinyModel(dir, configJson, c.dtype);
  const { open, display } = folderOpener(dir);
  return { dir, ir: (await openHfModel(open, display)).ir };
}

describe.each([
  LLAMA_32_1B,
  QWEN3_06B,
  MISTRAL_7B_V03,
  SMOLLM2_135M,
  QWEN25_05B,
  MISTRAL_7B_V01,
  PHI3_MINI_4K,
  SMOLLM3_3B,
  PHI35_MINI,
  PHI4_MINI,
  GEMMA3_270M,
])('$name, tiny, against the independent numpy implementation', (c) => {
  it('reference forward, ONNX graph (plain and fused ops) and CPU engine: prefill and decode within the budget', async () => {
    const { dir, ir } = await tinyModel(c);
    const want = await independentLogits(dir, ids);
    const scale = Math.max(...want.logits.flat().map(Math.abs));
    const engines: [string, CausalLM][] = [['reference', await ReferenceModel.load(ir)]];
    for (const ops of ['plain', 'fused'] as const) {
      const built = await buildOnnxDecoder(ir, { ops });
      engines.push([`onnxruntime-web ${ops}`, await createOnnxCausalLM(ir.config, built.model, [], { device: 'wasm' })]);
      const loader = await CpuModelLoader.create(await engineModulesNode(), { spawner: nodeThreadSpawner });
      const cpu = await loader.fromGraph(ir.config, { name: `${c.name}/model.onnx`, model: built.model, externalData: [] });
      if ('unsupported' in cpu) throw new Error(cpu.unsupported);
      engines.push([`cpu engine ${ops}`, cpu]);
    }
    const figures: Record<string, { prefill: number; decode: number }> = {};
    for (const [name, model] of engines) {
      figures[name] = await against(model, want.logits);
      await model.dispose();
    }
    console.info(`${c.name} (max |logit| ${scale.toFixed(2)}): ${JSON.stringify(figures)}`);
    for (const [name, d] of Object.entries(figures)) {
      expect(d.prefill, `${name} prefill`).toBeLessThan(BUDGET.independentVsEngineRelative);
      expect(d.decode, `${name} decode`).toBeLessThan(BUDGET.independentVsEngineRelative);
    }
  });

  it('the calibration forward (the block runner GPTQ, AWQ, Wanda and SparseGPT run) gives the same logits', async () => {
    const { dir, ir } = await tinyModel(c);
    const want = await independentLogits(dir, ids);
    const cfg = ir.config;
    const ref = await ReferenceModel.load(ir);
    const dim = cfg.hiddenSize;
    const x = [new Float32Array(ids.length * dim)];
    ids.forEach((id, t) => x[0]!.set(widenRows(ref.weights.embedding, id, id + 1, dim), t * dim));
    scaleInPlace(x[0]!, cfg.embeddingScale); // Gemma: sqrt(hidden_size)
    const ropes = layerRopeTables(cfg, 0, ids.length);
    for (let l = 0; l < cfg.numLayers; l++)
      await new BlockRunner(referenceCalibBackend, cfg, widenLayer(ref.weights.layers[l]!), x, ropes(l), undefined, l).pass('out');
    const xf = rmsNorm(x[0]!, ref.weights.finalNorm, ids.length, dim, cfg.rmsNormEps);
    const got = linear(xf, widenMatrix(ref.weights.classifier), null, ids.length, dim, cfg.vocabSize);
    expect(relativeLogitDiff(got, want.logits, 0)).toBeLessThan(BUDGET.independentVsEngineRelative);
  });
});

describe.each([LLAMA_32_1B, QWEN3_06B, PHI3_MINI_4K, SMOLLM3_3B, GEMMA3_270M])('$name, tiny: calibrated recipes', (c) => {
  it.each(['ffn25+gptq-int4-g32', 'wanda-2:4+awq-int4-g32'])(
    '%s calibrates through the block forward; onnxruntime-web and the CPU engine run the result alike',
    async (recipe) => {
      const { ir } = await tinyModel(c);
      const plan = planCompression(parseRecipe(recipe), ir.config, { calibrationText: true });
      const rng = createRng(5);
      const windows = Array.from({ length: 8 }, () => Int32Array.from({ length: 48 }, () => Math.floor(rng() * ir.config.vocabSize)));
      const r = await compressModel(ir, plan, {
        quantizer: await createRtnQuantizer(),
        pruner: await createPruner(),
        calibration: { windows, backend: referenceCalibBackend },
      });
      expect(r.calibration?.windows).toBe(8);
      const ort = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
      const loader = await CpuModelLoader.create(await engineModulesNode(), { spawner: nodeThreadSpawner });
      const cpu = await loader.fromGraph(r.config, { name: `${recipe}/model.onnx`, model: r.built.model, externalData: [] });
      if ('unsupported' in cpu) throw new Error(cpu.unsupported);
      const d = await compareDecoding(ort, cpu, ids.slice(0, PREFILL), DECODE);
      await ort.dispose();
      await cpu.dispose();
      expect(d.prefill).toBeLessThan(BUDGET.engineQ8VsOnnxLogits);
      expect(d.decode).toBeLessThan(BUDGET.engineQ8VsOnnxLogits);
    },
  );
});

describe('Llama 3 rope scaling', () => {
  it('gives the inverse frequencies of the independent implementation for the published head_dim and rope_scaling', async () => {
    const { dir, ir } = await tinyModel(LLAMA_32_1B);
    const want = (await independentLogits(dir, [1])).invFreq;
    const got = ropeInverseFrequencies(ir.config);
    expect(got.length).toBe(32);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!) / want[i]!).toBeLessThan(1e-12);
    // The scaling moves the low frequencies by the published factor: it is not a no-op here.
    const plain = ropeInverseFrequencies({ ...ir.config, ropeScaling: undefined });
    expect(plain[31]! / got[31]!).toBeCloseTo(32, 9);
    expect(plain[0]).toBe(got[0]);
  });

  it('is seen in the logits: the same weights without rope_scaling miss the independent logits by more than the budget', async () => {
    const { dir, ir } = await tinyModel(LLAMA_32_1B);
    const long = Array.from({ length: 200 }, (_, i) => (i * 53 + 7) % 320); // positions where the rescaled band has turned
    const want = await independentLogits(dir, long);
    const run = async (config: ModelIR['config']) => {
      const m = await ReferenceModel.load({ config, tensors: ir.tensors });
      return relativeLogitDiff(await m.forward(m.createState(), long), want.logits, 0);
    };
    const scaled = await run(ir.config);
    const unscaled = await run({ ...ir.config, ropeScaling: undefined });
    console.info(`Llama 3 rope scaling over 200 positions: with ${scaled.toExponential(2)}, without ${unscaled.toExponential(2)}`);
    expect(scaled).toBeLessThan(BUDGET.independentVsEngineRelative);
    expect(unscaled).toBeGreaterThan(10 * BUDGET.independentVsEngineRelative);
  });

  it('refuses other rope_scaling types and incomplete llama3 fields, naming config.json and the field', async () => {
    const base = tinyConfigJson(LLAMA_32_1B);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /config\.json: field 'rope_scaling' type "yarn" is not supported/],
      [{ ...base, rope_scaling: { type: 'linear', factor: 2 } }, /config\.json: field 'rope_scaling' type "linear" is not supported/],
      [
        { ...base, rope_scaling: { rope_type: 'llama3', factor: 32 } },
        /config\.json: field 'rope_scaling\.low_freq_factor' must be a number/,
      ],
      [
        { ...base, rope_scaling: { ...(base.rope_scaling as object), high_freq_factor: 0.5 } },
        /config\.json: field 'rope_scaling\.high_freq_factor' must be a number above low_freq_factor/,
      ],
      [
        { ...base, rope_scaling: { ...(base.rope_scaling as object), factor: 0.5 } },
        /config\.json: field 'rope_scaling\.factor' must be a number >= 1/,
      ],
    ];
    for (const [json, pattern] of cases) expectShrinkrayError(() => parseHfConfig(json, 'llama/config.json'), 'bad_config', pattern);
  });

  it('refuses a head_dim that contradicts q_proj, naming config.json, the tensor and the fields', async () => {
    const { dir } = await tinyModel(LLAMA_32_1B);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...tinyConfigJson(LLAMA_32_1B), head_dim: 32 }));
    const { open, display } = folderOpener(dir);
    await expectShrinkrayError(
      openHfModel(open, display),
      'bad_file',
      /q_proj\.weight' has shape \[256, 64\], expected \[128, 64\] \(num_attention_heads × head_dim, hidden_size\) from .*config\.json/,
    );
  });
});

describe('sliding window', () => {
  it.each([MISTRAL_7B_V01, PHI3_MINI_4K])(
    '$name: is seen in the logits: the same weights attending to the whole context miss the independent logits',
    async (c) => {
      const { dir, ir } = await tinyModel(c);
      const want = await independentLogits(dir, ids);
      const run = async (config: ModelIR['config']) => {
        const m = await ReferenceModel.load({ config, tensors: ir.tensors });
        return relativeLogitDiff(await m.forward(m.createState(), ids), want.logits, 0);
      };
      expect(ir.config.slidingWindow).toBe(8);
      const windowed = await run(ir.config);
      const { slidingWindow: _w, ...whole } = ir.config;
      const unwindowed = await run(whole);
      // onnxruntime's GroupQueryAttention with local_window_size W - 1 (one key fewer) misses too: the window's edge is checked.
      const built = await buildOnnxDecoder({ config: { ...ir.config, slidingWindow: 7 }, tensors: ir.tensors }, { ops: 'fused' });
      const narrow = await createOnnxCausalLM(ir.config, built.model, [], { device: 'wasm' });
      const edge = relativeLogitDiff(await narrow.forward(narrow.createState(), ids), want.logits, 0);
      await narrow.dispose();
      console.info(
        `${c.name} window 8 over ${ids.length} positions: with ${windowed.toExponential(2)}, whole context ${unwindowed.toExponential(2)}, window 7 ${edge.toExponential(2)}`,
      );
      expect(windowed).toBeLessThan(BUDGET.independentVsEngineRelative);
      expect(unwindowed).toBeGreaterThan(100 * BUDGET.independentVsEngineRelative);
      expect(edge).toBeGreaterThan(100 * BUDGET.independentVsEngineRelative);
    },
  );
});

describe('what is refused, naming config.json and the field', () => {
  it('sliding windows: Mistral v0.1 and Phi-3 slide, a window as long as the context is none, Qwen2/Qwen3 per-layer windows are refused', () => {
    const v01 = { ...tinyConfigJson(MISTRAL_7B_V01), sliding_window: 4096, max_position_embeddings: 32768 };
    expect(parseHfConfig(v01, 'mistral/config.json').slidingWindow).toBe(4096);
    // MistralConfig's default window (4096) applies when the field is absent.
    const { sliding_window: _w, ...noWindow } = { ...v01 };
    expect(parseHfConfig(noWindow, 'config.json').slidingWindow).toBe(4096);
    // A window as long as the context never bites: the same model as none.
    expect(parseHfConfig({ ...v01, sliding_window: 32768 }, 'config.json').slidingWindow).toBeUndefined();
    expect(parseHfConfig({ ...tinyConfigJson(PHI3_MINI_4K), sliding_window: 2047 }, 'config.json').slidingWindow).toBeUndefined();
    expect(parseHfConfig({ ...tinyConfigJson(PHI3_MINI_4K), sliding_window: null }, 'config.json').slidingWindow).toBeUndefined();
    expectShrinkrayError(
      () => parseHfConfig({ ...v01, sliding_window: 0 }, 'mistral/config.json'),
      'bad_config',
      /mistral\/config\.json: field 'sliding_window' must be a positive integer or null, got 0/,
    );
    // Qwen2/Qwen3 slide only with use_sliding_window, and then only from max_window_layers on.
    const qwen3 = tinyConfigJson(QWEN3_06B);
    expect(parseHfConfig({ ...qwen3, sliding_window: 64 }, 'config.json').slidingWindow).toBeUndefined();
    expectShrinkrayError(
      () => parseHfConfig({ ...qwen3, sliding_window: 64, use_sliding_window: true }, 'config.json'),
      'bad_config',
      /field 'sliding_window' \(64\) is below max_position_embeddings \(256\) with use_sliding_window: a window on the layers from max_window_layers on is not supported/,
    );
  });

  it('Qwen3 with attention_bias (an o_proj bias the IR does not hold)', () => {
    expectShrinkrayError(
      () => parseHfConfig({ ...tinyConfigJson(QWEN3_06B), attention_bias: true }, 'config.json'),
      'bad_config',
      /config\.json: field 'attention_bias' true is not supported for Qwen3ForCausalLM \(o_proj bias\)/,
    );
  });

  it('Gemma 3 with its vision tower, Qwen3.5 and Qwen3-Next: unsupported_architecture naming what is missing, and the supported list', () => {
    const supported =
      'supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM, SmolLM3ForCausalLM, Gemma3ForCausalLM';
    const as = (arch: string) => () => parseHfConfig({ ...tinyConfigJson(LLAMA_32_1B), architectures: [arch] }, 'x/config.json');
    const gemma = expectShrinkrayError(
      as('Gemma3ForConditionalGeneration'),
      'unsupported_architecture',
      /architecture 'Gemma3ForConditionalGeneration' is not supported \(not implemented: the vision tower/,
    );
    expect(gemma.message.endsWith(supported)).toBe(true);
    for (const qwen35 of ['Qwen3_5ForCausalLM', 'Qwen3_5ForConditionalGeneration', 'Qwen3NextForCausalLM'])
      expectShrinkrayError(
        as(qwen35),
        'unsupported_architecture',
        /not implemented: the layers layer_types names 'linear_attention' \(Gated DeltaNet/,
      );
    expectShrinkrayError(
      as('GPT2LMHeadModel'),
      'unsupported_architecture',
      `x/config.json: architecture 'GPT2LMHeadModel' is not supported; ${supported}`,
    );
  });

  it('Phi-3: a fused qkv_proj that contradicts the config, naming the tensor and the fields behind its rows', async () => {
    const { dir } = await tinyModel(PHI3_MINI_4K);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...tinyConfigJson(PHI3_MINI_4K), num_key_value_heads: 2 }));
    const { open, display } = folderOpener(dir);
    await expectShrinkrayError(
      openHfModel(open, display),
      'bad_file',
      /tensor 'model\.layers\.0\.self_attn\.qkv_proj\.weight' has shape \[192, 64\], expected \[128, 64\] \(\(num_attention_heads \+ 2 × num_key_value_heads\) × head_dim, hidden_size\) from .*config\.json/,
    );
  });

  it('Phi-3: the fused tensors split at import into the Llama projections, in the stored dtype', async () => {
    const { ir } = await tinyModel(PHI3_MINI_4K);
    const names = [...ir.tensors.keys()].filter((n) => n.startsWith('model.layers.0.'));
    expect(names.some((n) => n.includes('qkv_proj') || n.includes('gate_up_proj'))).toBe(false);
    const q = ir.tensors.get('model.layers.0.self_attn.q_proj.weight')!;
    const k = ir.tensors.get('model.layers.0.self_attn.k_proj.weight')!;
    const up = ir.tensors.get('model.layers.0.mlp.up_proj.weight')!;
    expect([q.shape, k.shape, up.shape, q.dtype]).toEqual([[64, 64], [64, 64], [96, 64], 'BF16']);
  });

  it('a config that does not describe its weights: Qwen3 weights under a Llama or Qwen2 config, Llama weights under a Qwen3 one', async () => {
    const { dir } = await tinyModel(QWEN3_06B);
    const { open, display } = folderOpener(dir);
    const withConfig = (json: Record<string, unknown>) => writeFile(join(dir, 'config.json'), JSON.stringify(json));
    await withConfig({ ...tinyConfigJson(QWEN3_06B), architectures: ['LlamaForCausalLM'] });
    await expectShrinkrayError(
      openHfModel(open, display),
      'bad_file',
      /holds 'model\.layers\.0\.self_attn\.[qk]_norm\.weight', which .*config\.json \(architectures LlamaForCausalLM\) has no place for/,
    );
    await withConfig({ ...tinyConfigJson(QWEN3_06B), architectures: ['Qwen2ForCausalLM'] });
    await expectShrinkrayError(
      openHfModel(open, display),
      'bad_file',
      /missing tensor 'model\.layers\.0\.self_attn\.q_proj\.bias' \[512\]/,
    );
    const llama = await tinyModel(LLAMA_32_1B);
    const other = folderOpener(llama.dir);
    await writeFile(
      join(llama.dir, 'config.json'),
      JSON.stringify({ ...tinyConfigJson(LLAMA_32_1B), architectures: ['Qwen3ForCausalLM'] }),
    );
    await expectShrinkrayError(
      openHfModel(other.open, other.display),
      'bad_file',
      /missing tensor 'model\.layers\.0\.self_attn\.q_norm\.weight' \[64\] that .*config\.json requires/,
    );
  });
});

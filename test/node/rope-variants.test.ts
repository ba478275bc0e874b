import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';
import { dropBlocksIr } from '../../src/compress/drop/drop-blocks.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import type { CausalLM } from '../../src/model/causal-lm.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { parseHfConfig, toHfConfig } from '../../src/model/hf-config.ts';
import { openHfModel } from '../../src/model/hf-model.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { engineModulesNode, nodeThreadSpawner } from '../../src/node/engine-node.ts';
import { folderOpener } from '../../src/node/folder-opener.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { BUDGET } from '../error-budgets.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { independentLogits, PHI35_MINI, PHI4_MINI, SMOLLM3_3B, tinyConfigJson, writeTinyModel, type ArchCase } from './arch-models.ts';
import { relativeLogitDiff } from './logit-diff.ts';

/**
 * What each of SmolLM3's and Phi-3.5/Phi-4-mini's RoPE variants changes, on the tiny models of
 * arch-models.ts against the independent float64 forward (test/independent/llama_family.py):
 * the same weights without the NoPE layers, without LongRoPE, without partial rotary miss it, so
 * the architecture tests' agreement (architectures.test.ts) is not an accident of inputs that
 * never exercise them. And LongRoPE's switch inside one conversation: a prefill within
 * original_max_position_embeddings, then decode steps past it, where transformers turns the new
 * positions with the long factors while the cached keys keep the short ones.
 */
const ids = Array.from({ length: 30 }, (_, i) => (i * 37 + 11) % 320);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shrinkray-rope-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tinyModel(c: ArchCase, configJson = tinyConfigJson(c)): Promise<{ dir: string; ir: ModelIR }> {
  const dir = join(root, `${c.name.replace('/', '_')}-${Math.random().toString(36).slice(2, 8)}`);
  await writeTinyModel(dir, configJson, c.dtype);
  const { open, display } = folderOpener(dir);
  return { dir, ir: (await openHfModel(open, display)).ir };
}

/** The reference forward's logits of every position, fed as `calls` (lengths) through one state. */
async function referenceLogits(config: ModelConfig, ir: ModelIR, calls: readonly number[] = [ids.length]): Promise<Float32Array> {
  return runCalls(await ReferenceModel.load({ config, tensors: ir.tensors }), calls);
}

async function runCalls(model: CausalLM, calls: readonly number[]): Promise<Float32Array> {
  const s = model.createState();
  const out = new Float32Array(ids.length * model.config.vocabSize);
  let at = 0;
  for (const n of calls) {
    out.set(await model.forward(s, ids.slice(at, at + n)), at * model.config.vocabSize);
    at += n;
  }
  await model.dispose();
  return out;
}

describe('each RoPE variant is seen in the logits: the same weights without it miss the independent forward', () => {
  it.each([
    ['SmolLM3 without its NoPE layer', SMOLLM3_3B, null, (c: ModelConfig): ModelConfig => ({ ...c, nopeLayers: undefined })],
    [
      'Phi-3.5-mini without LongRoPE (short factors, attention factor)',
      PHI35_MINI,
      null,
      (c: ModelConfig) => ({ ...c, ropeScaling: undefined }),
    ],
    [
      'Phi-4-mini without LongRoPE (long factors, attention factor)',
      PHI4_MINI,
      null,
      (c: ModelConfig) => ({ ...c, ropeScaling: undefined }),
    ],
    // Partial rotary alone: Phi-4-mini's fields with plain RoPE, turned over the whole head instead of its first 96 of 128 values.
    ['Phi-4-mini turning whole heads', PHI4_MINI, { rope_scaling: null }, (c: ModelConfig) => ({ ...c, rotaryDim: undefined })],
  ] as const)('%s', async (_name, c, fields, without) => {
    const { dir, ir } = await tinyModel(c, { ...tinyConfigJson(c), ...fields });
    const want = (await independentLogits(dir, ids)).logits;
    const withIt = relativeLogitDiff(await referenceLogits(ir.config, ir), want);
    const withoutIt = relativeLogitDiff(await referenceLogits(without(ir.config), ir), want);
    console.info(`${_name}: with ${withIt.toExponential(2)}, without ${withoutIt.toExponential(2)}`);
    expect(withIt).toBeLessThan(BUDGET.independentVsEngineRelative);
    expect(withoutIt).toBeGreaterThan(100 * BUDGET.independentVsEngineRelative);
  });
});

describe("LongRoPE's switch inside one conversation (Phi-4-mini, original_max_position_embeddings 26)", () => {
  // A 24-token prefill turns with the short factors; the decode steps that end past 26 positions with the long ones.
  const calls = [24, 1, 1, 1, 1, 1, 1];

  it('the reference forward, onnxruntime-web (plain and fused graphs) and the CPU engine switch as transformers does', async () => {
    const { dir, ir } = await tinyModel(PHI4_MINI, { ...tinyConfigJson(PHI4_MINI), original_max_position_embeddings: 26 });
    expect(ir.config.ropeScaling).toMatchObject({ ropeType: 'longrope', originalMaxPositionEmbeddings: 26 });
    const want = (await independentLogits(dir, ids, calls)).logits;
    const oneCall = (await independentLogits(dir, ids)).logits;
    const runners: [string, CausalLM][] = [['reference', await ReferenceModel.load(ir)]];
    for (const ops of ['plain', 'fused'] as const) {
      const built = await buildOnnxDecoder(ir, { ops });
      runners.push([`onnxruntime-web ${ops}`, await createOnnxCausalLM(ir.config, built.model, [], { device: 'wasm' })]);
      const loader = await CpuModelLoader.create(await engineModulesNode(), { spawner: nodeThreadSpawner });
      const cpu = await loader.fromGraph(ir.config, { name: `phi4-switch-${ops}/model.onnx`, model: built.model, externalData: [] });
      if ('unsupported' in cpu) throw new Error(cpu.unsupported);
      runners.push([`cpu engine ${ops}`, cpu]);
    }
    const figures: Record<string, number> = {};
    for (const [name, model] of runners) figures[name] = relativeLogitDiff(await runCalls(model, calls), want);
    // The switch is real: one call over all 30 tokens turns every position with the long factors, the prefill too.
    const apart = relativeLogitDiff(Float32Array.from(oneCall.flat()), want);
    console.info(
      `LongRoPE switch at 26, prefill 24 + 6 decode steps: ${JSON.stringify(figures)}; one call vs calls ${apart.toExponential(2)}`,
    );
    for (const [name, d] of Object.entries(figures)) expect(d, name).toBeLessThan(BUDGET.independentVsEngineRelative);
    expect(apart).toBeGreaterThan(100 * BUDGET.independentVsEngineRelative);
  });
});

describe("SmolLM3's NoPE layers through block removal", () => {
  it('the kept blocks keep their RoPE: renumbered in the config, in config.json, and through the pipeline', async () => {
    const { ir } = await tinyModel(SMOLLM3_3B);
    expect(ir.config.nopeLayers).toEqual([3]);
    const withoutBlock1 = dropBlocksIr(ir, [1]).config;
    expect([withoutBlock1.numLayers, withoutBlock1.nopeLayers]).toEqual([3, [2]]);
    expect(toHfConfig(withoutBlock1).no_rope_layers).toEqual([1, 1, 0]);
    expect(dropBlocksIr(ir, [3]).config.nopeLayers).toBeUndefined();
    // drop1-last removes block 3, the NoPE one: the output model turns every block.
    const r = await compressModel(ir, planCompression(parseRecipe('drop1-last'), ir.config), { quantizer: await createRtnQuantizer() });
    expect([r.config.numLayers, r.config.nopeLayers]).toEqual([3, undefined]);
    expect(toHfConfig(r.config).no_rope_layers).toEqual([1, 1, 1]);
  });
});

describe('what is refused, naming config.json and the field', () => {
  it('LongRoPE and partial rotary: factor lists that do not fit the rotary dims, other rope types for Phi3, bad factors', () => {
    const phi4 = tinyConfigJson(PHI4_MINI);
    const scaling = phi4.rope_scaling as Record<string, unknown>;
    // The early configs' "su" is read as longrope, as Phi3Config does.
    expect(parseHfConfig({ ...phi4, rope_scaling: { ...scaling, type: 'su' } }, 'config.json').ropeScaling?.ropeType).toBe('longrope');
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { ...phi4, partial_rotary_factor: 1 },
        /phi\/config\.json: field 'rope_scaling\.short_factor' must be a list of 64 positive numbers \(one per rotated pair/,
      ],
      [
        { ...phi4, rope_scaling: { ...scaling, long_factor: [1, 2] } },
        /field 'rope_scaling\.long_factor' must be a list of 48 positive numbers/,
      ],
      [{ ...phi4, rope_scaling: { ...scaling, short_factor: null } }, /field 'rope_scaling\.short_factor' must be a list of numbers/],
      [
        { ...phi4, rope_scaling: { ...scaling, type: 'llama3' } },
        /field 'rope_scaling' type "llama3" is not supported for Phi3ForCausalLM/,
      ],
      [{ ...phi4, partial_rotary_factor: 1.5 }, /field 'partial_rotary_factor' must be a number in \(0, 1\], got 1\.5/],
      [
        { ...phi4, partial_rotary_factor: 0.01, rope_scaling: null },
        /field 'partial_rotary_factor' gives 1 rotary values per head; expected an even number/,
      ],
      [{ ...phi4, original_max_position_embeddings: 0 }, /field 'original_max_position_embeddings' must be a positive integer, got 0/],
    ];
    for (const [json, pattern] of cases) expectShrinkrayError(() => parseHfConfig(json, 'phi/config.json'), 'bad_config', pattern);
  });

  it('SmolLM3: no_rope_layers that do not cover the layers, a per-layer sliding window, biases', () => {
    const smol = tinyConfigJson(SMOLLM3_3B);
    // Without no_rope_layers, every no_rope_layer_interval-th layer goes without RoPE (SmolLM3Config's default).
    expect(parseHfConfig({ ...smol, no_rope_layers: null, no_rope_layer_interval: 2 }, 'config.json').nopeLayers).toEqual([1, 3]);
    expect(parseHfConfig({ ...smol, no_rope_layers: undefined }, 'config.json').nopeLayers).toEqual([3]);
    expect(parseHfConfig({ ...smol, no_rope_layers: [1, 1, 1, 1] }, 'config.json').nopeLayers).toBeUndefined();
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { ...smol, no_rope_layers: [1, 1, 0] },
        /smol\/config\.json: field 'no_rope_layers' must list 1 \(RoPE\) or 0 \(none\) for each of the 4 layers/,
      ],
      [{ ...smol, no_rope_layers: [1, 1, 2, 0] }, /field 'no_rope_layers' must list 1/],
      [
        { ...smol, use_sliding_window: true, sliding_window: 64 },
        /field 'sliding_window' \(64\) is below max_position_embeddings \(256\) with use_sliding_window: a window on the NoPE layers only is not supported/,
      ],
      [{ ...smol, attention_bias: true }, /field 'attention_bias' true is not supported for SmolLM3ForCausalLM/],
      [{ ...smol, mlp_bias: true }, /field 'mlp_bias' true is not supported/],
    ];
    for (const [json, pattern] of cases) expectShrinkrayError(() => parseHfConfig(json, 'smol/config.json'), 'bad_config', pattern);
  });
});

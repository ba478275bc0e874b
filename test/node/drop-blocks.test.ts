import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceCalibBackend, wasmCalibBackend, type CalibBackend } from '../../src/compress/calib-backend.ts';
import { calibrationWindows } from '../../src/compress/calibration-windows.ts';
import { dropBlocksIr, keptBlockFields, leastInfluential } from '../../src/compress/drop/drop-blocks.ts';
import { compressModel, type CompressResult } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe, recipeNeedsCalibration, recipeProblems } from '../../src/compress/recipe.ts';
import type { ShrinkrayReport } from '../../src/compress/report.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import { createRtnQuantizer, type RtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { CausalLM } from '../../src/model/causal-lm.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { engineModulesNode, nodeThreadSpawner } from '../../src/node/engine-node.ts';
import { loadCalibWasmNode, loadQuantizeWasmNode } from '../../src/node/kernel-wasm-node.ts';
import { loadModelFolder, type LoadedModel } from '../../src/node/model-folder.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { BUDGET } from '../error-budgets.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { compareDecoding } from './logit-diff.ts';
import { runCli, splitOutput } from './run-cli.ts';

/**
 * Layer removal (drop{N}, drop{N}-bi, drop{N}-last) on stories260K (5 blocks): the grammar, the dropped
 * model as an ordinary Llama with fewer layers, and every runner agreeing on it. The quality
 * bar (calibrated removal against the last blocks) is in drop-stories.test.ts.
 */
let source: LoadedModel;
let tokenizer: TextTokenizer;
let quantizer: RtnQuantizer;
let backend: CalibBackend;
let windows: Int32Array[]; // 4 windows of 512 tokens: enough to exercise the scoring
const opened: CausalLM[] = [];

beforeAll(async () => {
  source = await loadModelFolder(STORIES_DIR);
  tokenizer = new TextTokenizer(source.tokenizerJson, source.tokenizerConfig, source.ir.config);
  quantizer = await createRtnQuantizer({ wasm: await loadQuantizeWasmNode() });
  backend = wasmCalibBackend(await loadCalibWasmNode());
  const text = readFileSync(fixtureTextPath('tinystories_calibration.txt'), 'utf8');
  windows = calibrationWindows(text, (d) => tokenizer.encode(d, { addBos: true }), { windowLength: 512, count: 4, seed: 0 }).windows;
});
afterAll(async () => {
  for (const m of opened) await m.dispose();
});

async function compress(recipe: string): Promise<CompressResult> {
  const plan = planCompression(parseRecipe(recipe), source.ir.config);
  return compressModel(source.ir, plan, { quantizer, ...(plan.calibrate ? { calibration: { windows, backend } } : {}) });
}

const prompt = () => tokenizer.encode('Once upon a time, Tom found a red ball in the park.', { addBos: true });

describe('the drop step in the recipe grammar', () => {
  it('parses drop{N}, drop{N}-bi and drop{N}-last, runs first in the canonical order', () => {
    expect(parseRecipe('drop2').drop).toEqual({ count: 2, choose: 'loss' });
    expect(parseRecipe('drop2-BI').drop).toEqual({ count: 2, choose: 'influence' });
    expect(parseRecipe('int8+drop2-bi').canonical).toBe('drop2-bi+int8-g32');
    expect(parseRecipe('DROP1-Last').drop).toEqual({ count: 1, choose: 'last' });
    expect(parseRecipe('int4+drop1').canonical).toBe('drop1+int4-g32');
    expect(parseRecipe('gptq-int4-g32 + drop2-last + ffn25').canonical).toBe('drop2-last+ffn25+gptq-int4-g32');
    expect(parseRecipe('fp16+drop3').canonical).toBe('drop3+fp16');
    expect(parseRecipe('drop1').canonical).toBe('drop1');
    expect(parseRecipe('int8').drop).toBeNull();
  });

  it('needs calibration text when the blocks are scored, not for -last', () => {
    expect(recipeNeedsCalibration(parseRecipe('drop1'))).toBe(true);
    expect(recipeNeedsCalibration(parseRecipe('drop1-bi'))).toBe(true);
    expect(recipeNeedsCalibration(parseRecipe('drop1-last'))).toBe(false);
    expect(recipeNeedsCalibration(parseRecipe('drop1-last+gptq-int4'))).toBe(true);
    const c = source.ir.config;
    expect(planCompression(parseRecipe('drop1'), c)).toMatchObject({ calibrate: true, calibratedBlocks: false });
    expect(planCompression(parseRecipe('drop1-last'), c)).toMatchObject({ calibrate: false, calibratedBlocks: false });
    expect(planCompression(parseRecipe('drop1+gptq-int4'), c)).toMatchObject({ calibrate: true, calibratedBlocks: true });
  });

  it('refuses bad counts and malformed steps, naming the step and the layer count', () => {
    expectShrinkrayError(() => parseRecipe('drop0'), 'bad_recipe', /step 'drop0' removes 0 decoder blocks; remove at least 1/);
    expectShrinkrayError(
      () => parseRecipe('drop-1'),
      'bad_recipe',
      /step 'drop-1' does not match drop\{N\}, drop\{N\}-bi or drop\{N\}-last/,
    );
    expectShrinkrayError(() => parseRecipe('drop2-first'), 'bad_recipe', /step 'drop2-first' does not match/);
    expectShrinkrayError(() => parseRecipe('drop'), 'bad_recipe', /step 'drop' does not match/);
    expectShrinkrayError(() => parseRecipe('drop1+drop2-last'), 'bad_recipe', /both set the decoder blocks removed/);
    const c = source.ir.config; // 5 blocks
    expect(recipeProblems(parseRecipe('drop4'), c)).toEqual([]);
    expect(recipeProblems(parseRecipe('drop5+int4'), c)).toEqual([
      "drop5 would remove 5 of the model's 5 decoder blocks; at least one must remain; allowed drop1..drop4",
    ]);
    expectShrinkrayError(
      () => planCompression(parseRecipe('drop9-last'), c),
      'bad_recipe',
      "recipe 'drop9-last': drop9-last would remove 9 of the model's 5 decoder blocks; at least one must remain; allowed drop1-last..drop4-last",
    );
    expectShrinkrayError(() => dropBlocksIr(source.ir, [5]), 'bad_argument', 'cannot remove decoder block 5: the model has blocks 0..4');
  });

  it('plans the kept blocks, renumbered; bytes in count the removed ones', () => {
    const full = planCompression(parseRecipe('fp32'), source.ir.config);
    const p = planCompression(parseRecipe('drop2-last+int8'), source.ir.config);
    expect(p.configOut.numLayers).toBe(3);
    expect(p.bytesIn).toBe(full.bytesIn);
    expect(p.tensors.filter((t) => t.layer !== null).map((t) => t.layer)).not.toContain(3);
    expect(p.tensors.length).toBe(full.tensors.length - 2 * full.tensors.filter((t) => t.layer === 0).length);
  });

  it('cuts config.json’s per-block layer_types to the kept blocks', () => {
    const removal = { method: 'last' as const, layers: 4, removed: [1, 3], scores: null, seconds: 0 };
    const configJson = {
      num_hidden_layers: 4,
      layer_types: ['full_attention', 'sliding_attention', 'full_attention', 'sliding_attention'],
    };
    expect(keptBlockFields(configJson, removal)).toEqual({ layer_types: ['full_attention', 'full_attention'] });
    expect(keptBlockFields({ num_hidden_layers: 4 }, removal)).toEqual({});
    expect(keptBlockFields(configJson, null)).toEqual({});
  });

  it('picks the lowest scores, a tie going to the later block', () => {
    expect(leastInfluential([0.3, 0.1, 0.2, 0.1, 0.5], 1)).toEqual([3]);
    expect(leastInfluential([0.3, 0.1, 0.2, 0.1, 0.5], 3)).toEqual([1, 2, 3]);
  });
});

describe('a dropped stories260K is an ordinary Llama with fewer layers', () => {
  it('renames the kept blocks and reads the same bytes', async () => {
    const ir = dropBlocksIr(source.ir, [1, 3]);
    expect(ir.config.numLayers).toBe(3);
    expect([...ir.tensors.keys()].some((n) => /^model\.layers\.[34]\./.test(n))).toBe(false);
    const moved = await ir.tensors.get('model.layers.2.mlp.down_proj.weight')!.read();
    expect(moved).toEqual(await source.ir.tensors.get('model.layers.4.mlp.down_proj.weight')!.read());
    expect(ir.tensors.get('model.norm.weight')).toBe(source.ir.tensors.get('model.norm.weight'));
  });

  it('drop1-last: onnxruntime-web matches the reference forward of the 4-block model, the CPU engine matches onnxruntime-web', async () => {
    const r = await compress('drop1-last');
    expect(r.config.numLayers).toBe(4);
    expect(r.layerRemoval).toEqual({ method: 'last', layers: 5, removed: [4], scores: null, seconds: 0 });
    expect(r.tensors.map((t) => t.name).filter((n) => n.startsWith('model.layers.4.'))).toEqual([]);
    const ref = await ReferenceModel.load(dropBlocksIr(source.ir, [4]));
    const ort = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
    const loader = await CpuModelLoader.create(await engineModulesNode(), { spawner: nodeThreadSpawner });
    const cpu = await loader.fromGraph(r.config, { name: 'drop1-last/model.onnx', model: r.built.model, externalData: [] });
    if ('unsupported' in cpu) throw new Error(cpu.unsupported);
    opened.push(ort, cpu);
    const d = await compareDecoding(ref, ort, prompt(), 8);
    expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.onnxVsReference);
    const e = await compareDecoding(ort, cpu, prompt(), 8);
    expect(Math.max(e.prefill, e.decode)).toBeLessThan(BUDGET.engineVsOnnxFp32);
  });

  it('drop1+int4-g32: SLEB on calibration text, the CPU engine matches onnxruntime-web on the 4-block int4 graph', async () => {
    const r = await compress('drop1+int4-g32');
    expect(r.config.numLayers).toBe(4);
    const { method, scores, losses, order, removed, baseLoss, lossWindows } = r.layerRemoval!;
    expect(method).toBe('sleb');
    expect(lossWindows).toBe(4); // all of this test's 4 windows: fewer than SLEB_WINDOWS
    expect(scores).toBeNull();
    // One round: the loss without each of the 5 blocks; the lowest goes, and every loss is above the whole model's.
    expect(losses).toHaveLength(1);
    const row = losses![0]!.map((l) => l!);
    expect(row).toHaveLength(5);
    expect(order).toEqual(removed);
    expect(row[removed[0]!]).toBe(Math.min(...row));
    for (const l of row) expect(l).toBeGreaterThan(baseLoss!);
    expect(r.calibration).toMatchObject({ windows: 4, tokens: 4 * 512 });
    const ort = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
    const loader = await CpuModelLoader.create(await engineModulesNode(), { spawner: nodeThreadSpawner });
    const cpu = await loader.fromGraph(r.config, { name: 'drop1+int4/model.onnx', model: r.built.model, externalData: [] });
    if ('unsupported' in cpu) throw new Error(cpu.unsupported);
    opened.push(ort, cpu);
    const d = await compareDecoding(ort, cpu, prompt(), 8);
    expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.engineQ8VsOnnxLogits);
  });

  it('drop1-last+gptq-int4-g32 is GPTQ run on the 4-block model: the same bytes', async () => {
    const dropped = await compress('drop1-last+gptq-int4-g32');
    const kept = dropBlocksIr(source.ir, [4]);
    const direct = await compressModel(kept, planCompression(parseRecipe('gptq-int4-g32'), kept.config), {
      quantizer,
      calibration: { windows, backend },
    });
    expect(Buffer.from(dropped.built.model).equals(Buffer.from(direct.built.model))).toBe(true);
    expect(dropped.paramsIn).toBeGreaterThan(direct.paramsIn); // the report counts the source's blocks
    expect(dropped.paramsOut).toBe(direct.paramsOut);
  });

  it.each(['ffn25+mag50+int4-g32', 'heads25+wanda50+int8'])(
    'drop1-last+%s is the same recipe on the 4-block model: the same bytes',
    async (rest) => {
      const dropped = await compress(`drop1-last+${rest}`);
      const kept = dropBlocksIr(source.ir, [4]);
      const plan = planCompression(parseRecipe(rest), kept.config);
      const direct = await compressModel(kept, plan, { quantizer, ...(plan.calibrate ? { calibration: { windows, backend } } : {}) });
      expect(dropped.config).toEqual(direct.config);
      expect(Buffer.from(dropped.built.model).equals(Buffer.from(direct.built.model))).toBe(true);
    },
  );

  it.each(['drop2', 'drop2-bi'])('%s: the reference calibration kernels choose the same blocks as the WASM ones', async (recipe) => {
    const plan = planCompression(parseRecipe(recipe), source.ir.config);
    const a = await compressModel(source.ir, plan, { quantizer, calibration: { windows, backend } });
    const b = await compressModel(source.ir, plan, { quantizer, calibration: { windows, backend: referenceCalibBackend } });
    expect(b.layerRemoval!.removed).toEqual(a.layerRemoval!.removed);
    const flat = (r: typeof a) => r.layerRemoval!.scores ?? r.layerRemoval!.losses!.flat().filter((l) => l !== null);
    expect(flat(a)).toHaveLength(recipe === 'drop2' ? 5 + 4 : 5);
    for (const [i, s] of flat(a).entries()) expect(Math.abs(s - flat(b)[i]!)).toBeLessThan(1e-4);
  });
});

describe('shrinkray compress --recipe drop…', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shrinkray-drop-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes config.json with num_hidden_layers - N and a report naming the removed blocks and their scores', async () => {
    const out = join(dir, 'drop2');
    const calib = fixtureTextPath('tinystories_calibration.txt');
    const run = await runCli(['compress', STORIES_DIR, '--recipe', 'drop2+int8', '--out', out, '--calib', calib, '--calib-windows', '4']);
    expect(run.code, run.stderr).toBe(0);
    expect(splitOutput(run.stdout).json).toMatchObject({ recipe: 'drop2+int8' });
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.num_hidden_layers).toBe(3);
    const report = JSON.parse(await readFile(join(out, 'shrinkray.json'), 'utf8')) as ShrinkrayReport;
    expect(report.recipe).toBe('drop2+int8-g32');
    expect(report.layerRemoval!.method).toBe('sleb');
    expect(report.layerRemoval!.removed).toHaveLength(2);
    expect(report.layerRemoval!.losses!.map((row) => row.filter((l) => l !== null).length)).toEqual([5, 4]);
    expect(report.calibration).toMatchObject({ name: 'tinystories_calibration.txt', windows: 4 });
    const evaluated = await runCli(['eval', out, '--text', fixtureTextPath('tinystories_sample.txt')]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(Number(splitOutput(evaluated.stdout).json.ppl)).toBeGreaterThan(1);
  });

  it('refuses drop5 on the 5-block model before reading a weight', async () => {
    const run = await runCli(['compress', STORIES_DIR, '--recipe', 'drop5-last', '--out', join(dir, 'bad')]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("drop5-last would remove 5 of the model's 5 decoder blocks");
  });
});

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressModel } from '../../src/compress/pipeline.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { engineModulesNode } from '../../src/node/engine-node.ts';
import { loadEngine } from '../../src/node/load-engine.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { STORIES_DIR } from './fixture-paths.ts';
import { plan } from './plan-recipe.ts';
import { runCli, splitOutput } from './run-cli.ts';

/**
 * What the CPU engine does with a stored model it must not run as is: a graph whose tensors
 * disagree with config.json is refused with an error naming the tensor (or the field), never
 * run; a graph with an op or form the engine does not run is handed to onnxruntime-web, and
 * the load result (the CLI's JSON line) says so and why.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-engine-bad-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const folders: Record<string, string> = {};
beforeAll(async () => {
  for (const recipe of ['fp32', 'int4-g32']) {
    const out = join(work, recipe);
    const r = await runCli(['compress', STORIES_DIR, '--recipe', recipe, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    folders[recipe] = out;
  }
});

/** A copy of a compressed folder with config.json edited. */
function withConfig(recipe: string, edit: (config: Record<string, unknown>) => void): string {
  const dir = join(work, `${recipe}-${Math.random().toString(36).slice(2)}`);
  cpSync(folders[recipe]!, dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

describe('a graph that disagrees with config.json is refused, naming what disagrees', () => {
  it.each([
    [
      'int4-g32',
      'intermediate_size',
      160,
      /model\.layers\.0\.mlp\.gate_proj\.weight' is a MatMulNBits of N=172, K=64, but config\.json implies N=160, K=64/,
    ],
    [
      'fp32',
      'intermediate_size',
      160,
      /tensor 'model\.layers\.0\.mlp\.gate_proj\.weight\.T' has shape \[64, 172\], but config\.json implies \[64, 160\]/,
    ],
    // (openRunnableModel's graph check, src/runtime/onnx-graph-check.ts, sees this one first)
    ['int4-g32', 'num_hidden_layers', 4, /the graph has 5 layers of KV cache inputs .* but num_hidden_layers is 4/],
    ['int4-g32', 'rope_theta', 500000, /RoPE table 'rope\.cos' at position 1 differs from rope_theta 500000/],
    ['int4-g32', 'rms_norm_eps', 1e-3, /RMSNorm epsilon .* differs from rms_norm_eps 0\.001/],
    [
      'fp32',
      'architectures',
      ['Qwen2ForCausalLM'],
      /config\.json gives 'model\.layers\.0\.self_attn\.q_proj\.weight' a bias, but the graph adds none/,
    ],
    ['int4-g32', 'tie_word_embeddings', false, /config\.json unties the classifier, but the graph has no 'lm_head\.weight' node/],
  ])('%s with %s = %j', async (recipe, field, value, message) => {
    const dir = withConfig(recipe, (c) => (c[field] = value));
    await expectShrinkrayError(loadEngine(dir, { engine: 'cpu' }), 'bad_file', message);
  });
});

describe('an op the engine does not run falls back to onnxruntime-web, and says so', () => {
  it('MatMulInteger weights (DynamicQuantizeMatMul): the CLI runs them on onnxruntime-web and its JSON names the op', async () => {
    const source = await loadModelFolder(STORIES_DIR);
    const r = await compressModel(source.ir, plan('int8', source.ir.config), {
      quantizer: await createRtnQuantizer(),
      quantizedMatMul: 'matmulinteger',
    });
    const dir = join(work, 'matmulinteger');
    cpSync(folders.fp32!, dir, { recursive: true });
    writeFileSync(join(dir, 'onnx', 'model.onnx'), r.built.model);
    const g = await runCli(['generate', dir, '--max-new-tokens', '8']);
    expect(g.code, g.stderr).toBe(0);
    const json = splitOutput(g.stdout).json;
    expect(json).toMatchObject({ engine: 'onnx', tokens: 8 });
    expect(json.fallback).toMatch(/node '.*' is com\.microsoft\.DynamicQuantizeMatMul, an op the CPU engine does not run/);
    // Asked for by name, onnxruntime runs it with no fallback to report.
    expect(splitOutput((await runCli(['generate', dir, '--max-new-tokens', '8', '--engine', 'onnx'])).stdout).json).not.toHaveProperty(
      'fallback',
    );
  });

  it("the engine counts the layers itself too, for graphs opened without the runtime's check", async () => {
    const model = new Uint8Array(readFileSync(join(folders['int4-g32']!, 'onnx', 'model.onnx')));
    const config = { ...(await loadModelFolder(STORIES_DIR)).ir.config, numLayers: 4 };
    const loader = await CpuModelLoader.create(await engineModulesNode());
    await expectShrinkrayError(
      loader.fromGraph(config, { name: 'int4/model.onnx', model, externalData: [] }),
      'bad_file',
      'int4/model.onnx: it has 5 decoder layers, but num_hidden_layers in config.json is 4',
    );
  });

  it("a graph whose nodes are not the builder's is not guessed at", async () => {
    const model = new Uint8Array(readFileSync(join(folders['int4-g32']!, 'onnx', 'model.onnx')));
    const text = new TextEncoder().encode('layers.0.post_attention_norm_node');
    const at = Buffer.from(model).indexOf(Buffer.from(text));
    expect(at).toBeGreaterThan(0);
    model.set(new TextEncoder().encode('layers.0.some_other_name_node'.padEnd(text.length, '_')), at);
    const loader = await CpuModelLoader.create(await engineModulesNode());
    const config = (await loadModelFolder(STORIES_DIR)).ir.config;
    const r = await loader.fromGraph(config, { name: 'renamed/model.onnx', model, externalData: [] });
    expect(r).toEqual({
      unsupported: "renamed/model.onnx has no node 'layers.0.post_attention_norm_node': it is not a decoder graph the CPU engine knows",
    });
  });
});

describe('calls the engine refuses', () => {
  it('token ids outside the vocabulary, past the context, empty calls, foreign or disposed states', async () => {
    const { model } = await loadEngine(folders['int4-g32']!);
    const s = model.createState();
    await expectShrinkrayError(
      model.forward(s, [512]),
      'bad_argument',
      'token id 512 (input position 0) is outside the vocabulary [0, 512) of config.json vocab_size',
    );
    await expectShrinkrayError(model.forward(s, []), 'bad_argument', 'forward needs at least one token');
    await expectShrinkrayError(model.forward(s, new Array(513).fill(1)), 'bad_argument', /exceed the context length 512/);
    const other = await loadEngine(folders['int4-g32']!);
    await expectShrinkrayError(model.forward(other.model.createState(), [1]), 'bad_argument', /not created by this CPU engine model/);
    s.dispose();
    await expectShrinkrayError(model.forward(s, [1]), 'bad_argument', 'this decoder state was disposed');
    await model.dispose();
    await other.model.dispose();
    expectShrinkrayError(() => model.createState(), 'bad_argument', 'this CPU engine model was disposed');
  });
});

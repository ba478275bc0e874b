import { AutoModelForCausalLM, pipeline, Tensor } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { transformersJsFolder } from '../../src/formats/transformers-js-folder.ts';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';
import { referenceCalibBackend } from '../../src/compress/calib-backend.ts';
import { calibrationWindows } from '../../src/compress/calibration-windows.ts';
import { dropBlocksIr } from '../../src/compress/drop/drop-blocks.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { toHfConfig } from '../../src/model/hf-config.ts';
import type { LongRopeScaling, ModelConfig } from '../../src/model/config.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { syntheticIR } from '../../src/model/synthetic-ir.ts';
import { generate } from '../../src/runtime/generate.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { serveInMemory } from './transformers-js-memory.ts';

/**
 * The browser export: the folder we assemble in the page (as the app's zip export does)
 * loads in transformers.js' text-generation pipeline on its wasm device, with no network:
 * files come from an in-memory cache (transformers.js' customCache hook), its
 * onnxruntime-web wasm files from the local server.
 */
const base = '/models/stories260K/';
const EXPECTED_START =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';

async function fetchBytes(file: string): Promise<Uint8Array> {
  const res = await fetch(base + file);
  expect(res.ok, `${base + file}: HTTP ${res.status}`).toBe(true);
  return new Uint8Array(await res.arrayBuffer());
}

// microsoft/Phi-3-mini-4k-instruct's config.json with width, depth, vocabulary and the window shrunk (window 8 < 36 positions).
const PHI3_TINY = {
  architectures: ['Phi3ForCausalLM'],
  model_type: 'phi3',
  hidden_act: 'silu',
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  vocab_size: 320,
  max_position_embeddings: 256,
  original_max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  rope_scaling: null,
  sliding_window: 8,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
  torch_dtype: 'bfloat16',
};

/** Greedy continuation of `prompt` by the reference forward pass, stopping at `eos` as transformers.js does. */
async function referenceGreedy(config: ModelConfig, ir: ReturnType<typeof syntheticIR>, prompt: number[], n: number, eos: number) {
  const m = await ReferenceModel.load({ config, tensors: ir.tensors });
  const s = m.createState();
  const out: number[] = [];
  let logits = await m.forward(s, prompt);
  const V = config.vocabSize;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(logits.length - V);
    let best = 0;
    for (let j = 1; j < V; j++) if (row[j]! > row[best]!) best = j;
    out.push(best);
    if (best === eos) break;
    logits = await m.forward(s, [best]);
  }
  return out;
}

/** The folder exported from `configJson` and `ir` (one graph, `ops`), served in memory under `name`; transformers.js' greedy continuation of `prompt`. */
async function exportedGreedyIds(
  name: string,
  configJson: Record<string, unknown>,
  config: ModelConfig,
  ir: ReturnType<typeof syntheticIR>,
  ops: 'plain' | 'fused',
  prompt: number[],
  n: number,
): Promise<number[]> {
  const built = await buildOnnxDecoder(ir, { ops });
  const files = transformersJsFolder({
    configJson: { ...configJson, ...toHfConfig(config) },
    generationConfig: { bos_token_id: 1, eos_token_id: 2 },
    carried: new Map(),
    model: built,
    report: {},
  });
  serveInMemory(name, files);
  const model = await AutoModelForCausalLM.from_pretrained(name, { device: 'wasm', dtype: 'fp32' });
  const ids = new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]);
  const mask = new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
  const out = (await model.generate({ input_ids: ids, attention_mask: mask, max_new_tokens: n, do_sample: false })) as {
    tolist(): bigint[][];
  };
  await model.dispose();
  return out.tolist()[0]!.map(Number).slice(prompt.length);
}

describe('transformers.js in Chromium runs a Phi-3-derived export with its sliding window', () => {
  it.each(['plain', 'fused'] as const)('%s graph: greedy ids are the reference forward pass ids, which the window changes', async (ops) => {
    const config = parseHfConfig(PHI3_TINY, 'config.json');
    expect(config.slidingWindow).toBe(8);
    const ir = syntheticIR(config, 3);
    const prompt = Array.from({ length: 20 }, (_, i) => (i * 37 + 11) % 320);
    const got = await exportedGreedyIds(`shrinkray/phi3-tiny-${ops}`, PHI3_TINY, config, ir, ops, prompt, 16);
    const want = await referenceGreedy(config, ir, prompt, 16, 2);
    const { slidingWindow: _w, ...whole } = config;
    const unwindowed = await referenceGreedy(whole, ir, prompt, 16, 2);
    console.info(
      `Phi-3 tiny ${ops}: transformers.js ${got.join(',')}; reference ${want.join(',')}; without the window ${unwindowed.join(',')}`,
    );
    expect(got).toEqual(want);
    expect(unwindowed).not.toEqual(want);
  });
});

// microsoft/Phi-4-mini-instruct's config.json shrunk: head_dim 16 of which partial_rotary_factor 0.75 turns 12, so every
// eighth of the published long factors (6 per rotated pair); LongRoPE switching at 26, inside the 20 + 16 positions. Untied
// as Phi-3 (a tied random model repeats its last token greedily, which would hide the switch).
const PHI4_LONG = [1, 2.446418898, 5.984965424, 13.09260651, 32.1, 32.71];
const PHI4_TINY = {
  ...PHI3_TINY,
  num_key_value_heads: 2,
  partial_rotary_factor: 0.75,
  original_max_position_embeddings: 26,
  rope_scaling: { type: 'longrope', long_factor: PHI4_LONG, short_factor: [1, 1, 1, 1, 1, 1] },
  sliding_window: 262144,
};

describe('transformers.js in Chromium runs a Phi-4-mini-derived export: partial rotary, LongRoPE switching mid-generation', () => {
  it.each(['plain', 'fused'] as const)('%s graph: greedy ids are the reference forward pass ids, which the switch changes', async (ops) => {
    const config = parseHfConfig(PHI4_TINY, 'config.json');
    expect([config.rotaryDim, config.ropeScaling?.ropeType]).toEqual([12, 'longrope']);
    const ir = syntheticIR(config, 3);
    const prompt = Array.from({ length: 20 }, (_, i) => (i * 37 + 11) % 320);
    const got = await exportedGreedyIds(`shrinkray/phi4-tiny-${ops}`, PHI4_TINY, config, ir, ops, prompt, 16);
    const want = await referenceGreedy(config, ir, prompt, 16, 2);
    // The short factors throughout (a switch beyond the context) give other ids once the generation passes 26 positions.
    const s = config.ropeScaling as LongRopeScaling;
    const unswitched = await referenceGreedy({ ...config, ropeScaling: { ...s, originalMaxPositionEmbeddings: 256 } }, ir, prompt, 16, 2);
    console.info(
      `Phi-4 tiny ${ops}: transformers.js ${got.join(',')}; reference ${want.join(',')}; never switching ${unswitched.join(',')}`,
    );
    expect(got).toEqual(want);
    expect(unswitched).not.toEqual(want);
  });
});

// google/gemma-3-270m-it's config.json shrunk: one sliding layer (window 8 < 36 positions, RoPE base 1e4) and one full layer
// (1e6), head_dim 32 with query_pre_attn_scalar 256; untied, as above (a tied random model repeats its last token greedily).
const GEMMA3_TINY = {
  architectures: ['Gemma3ForCausalLM'],
  model_type: 'gemma3_text',
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 1,
  head_dim: 32,
  query_pre_attn_scalar: 256,
  layer_types: ['sliding_attention', 'full_attention'],
  sliding_window: 8,
  vocab_size: 320,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  rope_local_base_freq: 10000.0,
  rope_scaling: null,
  attn_logit_softcapping: null,
  final_logit_softcapping: null,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
  torch_dtype: 'bfloat16',
};

describe('transformers.js in Chromium runs a Gemma-3-derived export: sliding and full layers, each with its RoPE base', () => {
  it.each(['plain', 'fused'] as const)('%s graph: greedy ids are the reference forward pass ids, which the window changes', async (ops) => {
    const config = parseHfConfig(GEMMA3_TINY, 'config.json');
    expect([config.slidingLayers, config.slidingWindow]).toEqual([[0], 8]);
    const ir = syntheticIR(config, 3);
    const prompt = Array.from({ length: 20 }, (_, i) => (i * 37 + 11) % 320);
    const got = await exportedGreedyIds(`shrinkray/gemma3-tiny-${ops}`, GEMMA3_TINY, config, ir, ops, prompt, 16);
    const want = await referenceGreedy(config, ir, prompt, 16, 2);
    const unwindowed = await referenceGreedy({ ...config, slidingWindow: undefined }, ir, prompt, 16, 2);
    console.info(
      `Gemma 3 tiny ${ops}: transformers.js ${got.join(',')}; reference ${want.join(',')}; without the window ${unwindowed.join(',')}`,
    );
    expect(got).toEqual(want);
    expect(unwindowed).not.toEqual(want);
  });
});

describe('transformers.js in Chromium loads the folder built in the page', () => {
  it('generates the reference story greedily', async () => {
    const configJson = JSON.parse(new TextDecoder().decode(await fetchBytes('config.json'))) as Record<string, unknown>;
    const config = parseHfConfig(configJson, 'config.json');
    const st = await readSafetensors(bytesSource(await fetchBytes('model.safetensors'), 'model.safetensors'));
    const built = await buildOnnxDecoder({ config, tensors: new Map(st.tensors) });
    const carried = new Map<string, Uint8Array>();
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) carried.set(f, await fetchBytes(f));
    const files = transformersJsFolder({
      configJson,
      generationConfig: { bos_token_id: 1, eos_token_id: 2 },
      carried,
      model: built,
      report: {},
    });

    const text = await transformersJsGreedy('shrinkray/stories260K-fp32', files);
    expect(text).toContain(EXPECTED_START);
  });

  it('loads a model with blocks removed (drop1-last, drop1+int8 scored in the page): the reference forward’s greedy text', async () => {
    const configJson = JSON.parse(new TextDecoder().decode(await fetchBytes('config.json'))) as Record<string, unknown>;
    const config = parseHfConfig(configJson, 'config.json');
    const st = await readSafetensors(bytesSource(await fetchBytes('model.safetensors'), 'model.safetensors'));
    const ir: ModelIR = { config, tensors: new Map(st.tensors) };
    const json = async (f: string) => JSON.parse(new TextDecoder().decode(await fetchBytes(f))) as Record<string, unknown>;
    const tokenizer = new TextTokenizer(await json('tokenizer.json'), await json('tokenizer_config.json'), config);
    const carried = new Map<string, Uint8Array>();
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) carried.set(f, await fetchBytes(f));
    const calibText = await (await fetch('/models/text/tinystories_calibration.txt')).text();
    const windows = calibrationWindows(calibText, (d) => tokenizer.encode(d, { addBos: true }), { windowLength: 128, count: 4, seed: 0 });
    const quantizer = await createRtnQuantizer({ prefer: 'reference' });

    for (const recipe of ['drop1-last', 'drop1+int8']) {
      const plan = planCompression(parseRecipe(recipe), config);
      const r = await compressModel(ir, plan, { quantizer, calibration: { windows: windows.windows, backend: referenceCalibBackend } });
      expect(r.config.numLayers).toBe(4);
      const files = transformersJsFolder({
        configJson: { ...configJson, ...toHfConfig(r.config) },
        generationConfig: { bos_token_id: 1, eos_token_id: 2 },
        carried,
        model: r.built,
        report: {},
      });
      // transformers.js asks for '+' as '%2B': keep the model name to word characters.
      const text = await transformersJsGreedy(`shrinkray/stories260K-${recipe.replace(/\W/g, '-')}`, files);
      if (recipe === 'drop1-last') {
        // fp32: the reference forward on the source without its last block writes the same story.
        const ref = await ReferenceModel.load(dropBlocksIr(ir, [4]));
        const ids = (await generate(ref, [1], { maxNewTokens: 48, temperature: 0, stopTokenIds: [2] })).ids;
        expect(text.trim()).toBe(tokenizer.decode(ids).trim());
      } else {
        expect(r.layerRemoval!.removed).toHaveLength(1);
        expect(text.trim().length).toBeGreaterThan(20);
      }
    }
  });
});

/** Greedy text from BOS (48 new tokens) of transformers.js' text-generation pipeline on `files`, served from memory. */
async function transformersJsGreedy(name: string, files: Map<string, Uint8Array | Uint8Array[]>): Promise<string> {
  serveInMemory(name, files);

  const generator = await pipeline('text-generation', name, { device: 'wasm' });
  const [result] = (await generator('', { max_new_tokens: 48, do_sample: false })) as { generated_text: string }[];
  await generator.dispose();
  return result!.generated_text;
}

import { pipeline } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { transformersJsFolder } from '../../src/formats/transformers-js-folder.ts';
import { planWithWidths } from '../../src/compress/mixed-precision.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { WIDTH_MENU } from '../../src/compress/width-menu.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { generate } from '../../src/runtime/generate.ts';
import { serveInMemory } from './transformers-js-memory.ts';

/**
 * A mixed-precision export (what `bits{X}` writes: MatMulNBits at 2, 4 and 8 bits and
 * several block sizes, and an fp16 MatMul, in one graph) loads in transformers.js'
 * text-generation pipeline in Chromium (its own onnxruntime-web, wasm device) and decodes
 * the greedy tokens our onnxruntime-web session decodes. The widths are set by hand here,
 * one of each kind per block; choosing them is tested in Node (mixed-precision-stories).
 */
const base = '/models/stories260K/';

async function fetchBytes(file: string): Promise<Uint8Array> {
  const res = await fetch(base + file);
  expect(res.ok, `${base + file}: HTTP ${res.status}`).toBe(true);
  return new Uint8Array(await res.arrayBuffer());
}

describe('transformers.js in Chromium loads a mixed-precision folder', () => {
  it('decodes the greedy tokens of our onnxruntime-web session', async () => {
    const configJson = JSON.parse(new TextDecoder().decode(await fetchBytes('config.json'))) as Record<string, unknown>;
    const config = parseHfConfig(configJson, 'config.json');
    const st = await readSafetensors(bytesSource(await fetchBytes('model.safetensors'), 'model.safetensors'));
    const ir = { config, tensors: new Map(st.tensors) };
    const plan = planCompression(parseRecipe('bits4'), config);
    const label = (l: string) => WIDTH_MENU.find((o) => o.label === l)!;
    const byKind = ['int4-g32', 'int2-g32-asym', 'int8-g32', 'fp16', 'int4-g64-asym', 'int4-g64', 'int8-g128'];
    const widths = new Map(
      plan.tensors
        .filter((t) => t.role === 'linear')
        .map((t) => [
          t.name,
          label(
            byKind[['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'].findIndex((k) => t.name.includes(k))]!,
          ),
        ]),
    );
    const result = await compressModel(ir, planWithWidths(plan, widths), { quantizer: await createRtnQuantizer() });
    expect(new Set(result.tensors.map((t) => t.kind))).toEqual(new Set([...byKind, 'fp32']));
    const carried = new Map<string, Uint8Array>();
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) carried.set(f, await fetchBytes(f));
    const files = transformersJsFolder({
      configJson,
      generationConfig: { bos_token_id: 1, eos_token_id: 2 },
      carried,
      model: result.built,
      report: {},
    });

    const name = 'shrinkray/stories260K-mixed';
    serveInMemory(name, files);

    const generator = await pipeline('text-generation', name, { device: 'wasm' });
    const ids = generator.tokenizer('Once upon a time', { add_special_tokens: true });
    const promptIds = Array.from(ids.input_ids.data as BigInt64Array, Number);
    const out = await generator.model.generate({ ...ids, max_new_tokens: 24, do_sample: false });
    const theirs = Array.from((out as { data: BigInt64Array }).data, Number).slice(promptIds.length);
    await generator.dispose();
    const ours = await createOnnxCausalLM(result.config, result.built.model, [], { device: 'wasm' });
    try {
      const r = await generate(ours, promptIds, { maxNewTokens: 24, temperature: 0, stopTokenIds: [2] });
      expect(theirs).toEqual(r.ids);
    } finally {
      await ours.dispose();
    }
  });
});

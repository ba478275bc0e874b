import { pipeline } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { transformersJsFolder } from '../../src/formats/transformers-js-folder.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { generate } from '../../src/runtime/generate.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { serveInMemory } from './transformers-js-memory.ts';

/**
 * A low-rank export (lr75+int8-g16: every linear layer two MatMulNBits products) compressed
 * in the page loads in transformers.js' text-generation pipeline (wasm device, no network),
 * and its greedy continuation is the one our onnxruntime-web session gives on the same graph.
 */
const base = '/models/stories260K/';

async function fetchBytes(file: string): Promise<Uint8Array> {
  const res = await fetch(base + file);
  expect(res.ok, `${base + file}: HTTP ${res.status}`).toBe(true);
  return new Uint8Array(await res.arrayBuffer());
}

describe('transformers.js loads a low-rank export', () => {
  it('lr75+int8-g16: greedy text as our onnxruntime-web session gives it', async () => {
    const configJson = JSON.parse(new TextDecoder().decode(await fetchBytes('config.json'))) as Record<string, unknown>;
    const config = parseHfConfig(configJson, 'config.json');
    const st = await readSafetensors(bytesSource(await fetchBytes('model.safetensors'), 'model.safetensors'));
    const ir = { config, tensors: new Map(st.tensors) };
    const r = await compressModel(ir, planCompression(parseRecipe('lr75+int8-g16'), config), { quantizer: await createRtnQuantizer() });
    expect(r.tensors.filter((t) => t.kind.startsWith('lowrank-r')).length).toBe(7 * config.numLayers);
    const carried = new Map<string, Uint8Array>();
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) carried.set(f, await fetchBytes(f));
    const files = transformersJsFolder({
      configJson,
      generationConfig: { bos_token_id: 1, eos_token_id: 2 },
      carried,
      model: r.built,
      report: {},
    });

    const ours = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
    const mine = await generate(ours, [1], { maxNewTokens: 32, temperature: 0 });
    await ours.dispose();

    const name = 'shrinkray/stories260K-lr75-int8';
    serveInMemory(name, files);
    const generator = await pipeline('text-generation', name, { device: 'wasm' });
    const out = generator.tokenizer('', { add_special_tokens: true }) as { input_ids: { data: BigInt64Array } };
    expect(Array.from(out.input_ids.data, Number)).toEqual([1]);
    const [result] = (await generator('', { max_new_tokens: 32, do_sample: false })) as { generated_text: string }[];
    const text = generator.tokenizer.decode(mine.ids, { skip_special_tokens: true });
    expect(text.length).toBeGreaterThan(20);
    expect(result!.generated_text.trim()).toBe(text.trim());
    await generator.dispose();
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { syntheticConfig, syntheticIR } from '../../src/model/synthetic-ir.ts';
import { generate } from '../../src/runtime/generate.ts';
import { createOnnxCausalLM, type OnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { BUDGET } from '../error-budgets.ts';

/**
 * The browser path end to end: fetch the fixture's safetensors over HTTP (public/ is
 * served at /), build the ONNX graph in the page, run it on the wasm EP (threads, as the
 * page is cross-origin isolated) and on the WebGPU EP (SwiftShader here).
 */
const base = '/models/stories260K/';
// The greedy continuation from BOS computed outside the project (fixtures README).
const EXPECTED_START =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';

async function fetchBytes(file: string): Promise<Uint8Array> {
  const res = await fetch(base + file);
  expect(res.ok, `${base + file}: HTTP ${res.status} (did npm run fixtures run?)`).toBe(true);
  return new Uint8Array(await res.arrayBuffer());
}
const fetchJson = async (file: string) => JSON.parse(new TextDecoder().decode(await fetchBytes(file))) as Record<string, unknown>;

describe('onnxruntime-web in Chromium', () => {
  let ir: ModelIR;
  let model: Uint8Array;
  let tokenizer: TextTokenizer;
  const greedy: Record<string, number[]> = {};
  const firstLogits: Record<string, Float32Array> = {};

  beforeAll(async () => {
    const config = parseHfConfig(await fetchJson('config.json'), 'config.json');
    const st = await readSafetensors(bytesSource(await fetchBytes('model.safetensors'), 'model.safetensors'));
    ir = { config, tensors: new Map(st.tensors) };
    model = (await buildOnnxDecoder(ir)).model;
    tokenizer = new TextTokenizer(await fetchJson('tokenizer.json'), await fetchJson('tokenizer_config.json'), config);
  });

  async function run(device: 'wasm' | 'webgpu'): Promise<void> {
    const lm: OnnxCausalLM = await createOnnxCausalLM(ir.config, model, [], { device });
    expect(lm.device).toBe(device);
    const s = lm.createState();
    firstLogits[device] = (await lm.forward(s, [1])).slice();
    expect(s.past['past_key_values.0.key']!.location).toBe(device === 'webgpu' ? 'gpu-buffer' : 'cpu');
    s.dispose();
    const r = await generate(lm, [1], { maxNewTokens: 48, temperature: 0, stopTokenIds: [2] });
    greedy[device] = r.ids;
    expect(tokenizer.decode(r.ids, { skipSpecialTokens: true }).trim()).toContain(EXPECTED_START);
    await lm.dispose();
  }

  it('wasm EP: greedy decoding gives the reference story', async () => {
    expect(globalThis.crossOriginIsolated).toBe(true);
    await run('wasm');
  });

  it('webgpu EP: same greedy tokens as wasm, KV cache kept on the GPU', async () => {
    await run('webgpu');
    expect(greedy.webgpu).toEqual(greedy.wasm);
    let d = 0;
    for (let i = 0; i < firstLogits.wasm!.length; i++) d = Math.max(d, Math.abs(firstLogits.wasm![i]! - firstLogits.webgpu![i]!));
    expect(d).toBeLessThan(BUDGET.webgpuVsWasmLogits);
  });
});

describe('fused com.microsoft ops in Chromium (GroupQueryAttention, SimplifiedLayerNormalization)', () => {
  it('wasm and webgpu EPs agree with the plain-op graph on a synthetic model (headDim 16)', async () => {
    const config = syntheticConfig('qwen2.5-0.5b', {
      hiddenSize: 64,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 16,
      intermediateSize: 96,
      numLayers: 2,
      vocabSize: 300,
      maxPositionEmbeddings: 128,
    });
    const ir = syntheticIR(config, 3);
    const prompt = Array.from({ length: 12 }, (_, i) => (i * 37 + 1) % config.vocabSize);
    const logits: Record<string, Float32Array> = {};
    for (const ops of ['plain', 'fused'] as const) {
      const model = (await buildOnnxDecoder(ir, { ops })).model;
      for (const device of ['wasm', 'webgpu'] as const) {
        const lm = await createOnnxCausalLM(config, model, [], { device });
        const s = lm.createState();
        const rows = [...(await lm.forward(s, prompt))];
        for (const t of [5, 77, 123]) rows.push(...(await lm.forward(s, [t])));
        logits[`${ops}/${device}`] = Float32Array.from(rows);
        s.dispose();
        await lm.dispose();
      }
    }
    const want = logits['plain/wasm']!;
    for (const [key, got] of Object.entries(logits)) {
      let d = 0;
      for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i]! - want[i]!));
      expect(d, key).toBeLessThan(BUDGET.webgpuVsWasmLogits);
    }
  });
});

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxDecoder, type BuildOnnxOptions } from '../../src/model/build-onnx.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { syntheticConfig, syntheticIR } from '../../src/model/synthetic-ir.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import type { CausalLM } from '../../src/runtime/causal-lm.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';

const root = join(import.meta.dirname, '..', '..');
const fixtures = process.env.SHRINKRAY_FIXTURES ?? join(root, '..', 'shared', 'fixtures');

// Error budgets, named: fp32 graph vs the fp32 TypeScript reference (same math, different
// summation order), and fp16 weight storage (one rounding of every weight).
const FP32_BUDGET = 1e-4;
const FP16_BUDGET = 0.05;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function argmaxLast(logits: Float32Array, vocab: number): number {
  const row = logits.subarray(logits.length - vocab);
  let best = 0;
  for (let i = 1; i < vocab; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Prefill `prompt`, then `steps` greedy decode steps; returns the worst difference per phase. */
async function compare(ref: CausalLM, onnx: CausalLM, prompt: number[], steps: number): Promise<{ prefill: number; decode: number }> {
  const vocab = ref.config.vocabSize;
  const rs = ref.createState();
  const os = onnx.createState();
  let want = await ref.forward(rs, prompt);
  const prefill = maxAbsDiff(await onnx.forward(os, prompt), want);
  let decode = 0;
  for (let i = 0; i < steps; i++) {
    const next = argmaxLast(want, vocab);
    want = await ref.forward(rs, [next]);
    decode = Math.max(decode, maxAbsDiff(await onnx.forward(os, [next]), want));
  }
  expect(os.length).toBe(prompt.length + steps);
  return { prefill, decode };
}

async function onnxModel(ir: ModelIR, opts: BuildOnnxOptions = {}): Promise<CausalLM> {
  const built = await buildOnnxDecoder(ir, opts);
  const external = built.externalData ? [{ path: built.externalData.location, data: Buffer.concat(built.externalData.chunks) }] : [];
  return createOnnxCausalLM(ir.config, built.model, external, { device: 'wasm' });
}

describe('ONNX decoder on the fixture model (stories260K)', () => {
  let ir: ModelIR;
  let ref: ReferenceModel;
  let prompt: number[];

  beforeAll(async () => {
    const folder = await loadModelFolder(join(root, 'public', 'models', 'stories260K'));
    ir = folder.ir;
    ref = await ReferenceModel.load(ir);
    const tok = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, ir.config);
    const text = await readFile(join(fixtures, 'text', 'tinystories_sample.txt'), 'utf8');
    prompt = tok.encode(text.split('<|endoftext|>')[0]!.trim(), { addBos: true }).slice(0, 64);
    expect(prompt).toHaveLength(64);
  });

  it('matches the reference within 1e-4 for a 64-token prefill and 16 decode steps (plain ops)', async () => {
    const onnx = await onnxModel(ir);
    const d = await compare(ref, onnx, prompt, 16);
    console.log(`stories260K fp32 plain: max |diff| prefill ${d.prefill.toExponential(2)}, decode ${d.decode.toExponential(2)}`);
    expect(d.prefill).toBeLessThan(FP32_BUDGET);
    expect(d.decode).toBeLessThan(FP32_BUDGET);
    await onnx.dispose();
  });

  it('matches with fused norms, and with weights forced into external data', async () => {
    for (const opts of [{ ops: 'fused' }, { externalDataThreshold: 0 }] as BuildOnnxOptions[]) {
      const onnx = await onnxModel(ir, opts);
      const d = await compare(ref, onnx, prompt, 16);
      console.log(`stories260K ${JSON.stringify(opts)}: max |diff| prefill ${d.prefill.toExponential(2)}, decode ${d.decode.toExponential(2)}`);
      expect(Math.max(d.prefill, d.decode)).toBeLessThan(FP32_BUDGET);
      await onnx.dispose();
    }
  });

  it('stores weights as fp16 at half the size, within the fp16 budget', async () => {
    const fp32 = await buildOnnxDecoder(ir);
    const fp16 = await buildOnnxDecoder(ir, { storage: 'fp16' });
    // Not quite half: the fp32 RoPE tables (32 KiB here) stay fp32.
    expect(fp16.model.byteLength / fp32.model.byteLength).toBeLessThan(0.55);
    const onnx = await onnxModel(ir, { storage: 'fp16' });
    const d = await compare(ref, onnx, prompt, 16);
    console.log(`stories260K fp16 storage: ${fp16.model.byteLength} bytes (fp32 ${fp32.model.byteLength}); max |diff| prefill ${d.prefill.toExponential(2)}, decode ${d.decode.toExponential(2)}`);
    expect(Math.max(d.prefill, d.decode)).toBeLessThan(FP16_BUDGET);
    await onnx.dispose();
  });

  it('keeps the cache intact across a prefill split into chunks', async () => {
    const onnx = await onnxModel(ir);
    const whole = await onnx.forward(onnx.createState(), prompt);
    const s = onnx.createState();
    await onnx.forward(s, prompt.slice(0, 40));
    const tail = await onnx.forward(s, prompt.slice(40));
    expect(maxAbsDiff(tail, whole.subarray(40 * ir.config.vocabSize))).toBeLessThan(FP32_BUDGET);
    await expect(onnx.forward(s, [ir.config.vocabSize])).rejects.toThrow(/outside the vocabulary/);
    await onnx.dispose();
  });
});

describe('ONNX decoder on synthetic models (bias, untied classifier, fused GroupQueryAttention)', () => {
  // headDim 16: the smallest that onnxruntime's GroupQueryAttention accepts.
  const small = { hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 96, numLayers: 2, vocabSize: 300, maxPositionEmbeddings: 128 };
  const cases = [
    { label: 'qwen2-like (bias, tied)', config: syntheticConfig('qwen2.5-0.5b', small) },
    { label: 'llama-like (untied)', config: syntheticConfig('smollm2-135m', { ...small, tieWordEmbeddings: false }) },
  ];
  for (const { label, config } of cases) {
    for (const ops of ['plain', 'fused'] as const) {
      it(`${label}, ${ops} ops: matches the reference within 1e-4`, async () => {
        const ir = syntheticIR(config, 7);
        const ref = await ReferenceModel.load(ir);
        const onnx = await onnxModel(ir, { ops });
        const prompt = Array.from({ length: 20 }, (_, i) => (i * 37 + 1) % config.vocabSize);
        const d = await compare(ref, onnx, prompt, 8);
        expect(Math.max(d.prefill, d.decode)).toBeLessThan(FP32_BUDGET);
        await onnx.dispose();
      });
    }
  }
});

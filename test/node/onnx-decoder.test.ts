import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-web';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxDecoder, type BuildOnnxOptions } from '../../src/build/decoder.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { syntheticConfig, syntheticIR } from '../../src/model/synthetic-ir.ts';
import type { LinearHook } from '../../src/build/linear-weight.ts';
import { dequantizeNBits } from '../../src/kernels/quantize/dequantize.ts';
import { quantizeRtnReference } from '../../src/kernels/quantize/rtn-reference.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { matMulNBitsBytes } from '../../src/compress/plan.ts';
import type { CausalLM } from '../../src/model/causal-lm.ts';
import { compareDecoding, maxAbsDiff } from './logit-diff.ts';
import { BUDGET } from '../error-budgets.ts';

const root = join(import.meta.dirname, '..', '..');
const fixtures = process.env.SHRINKRAY_FIXTURES ?? join(root, '..', 'shared', 'fixtures');

/**
 * Builds the decoder with an RTN hook on the linears or on the embedding, keeping each hooked
 * tensor's dequantized weights, and compares it against the reference run on exactly the
 * weights MatMulNBits (or GatherBlockQuantized) computes with.
 */
async function compareQuantized(ir: ModelIR, prompt: number[], where: 'linear' | 'embedding', bits: number, symmetric: boolean) {
  const opts = { bits, blockSize: 32, symmetric, scaleDtype: 'f32' as const };
  const dequantized = new Map<string, Float32Array>();
  const hook: LinearHook = (name, weight, N, K) => {
    const q = quantizeRtnReference(weight, N, K, { ...opts, name });
    dequantized.set(name, dequantizeNBits(q, N, K, opts));
    return {
      kind: 'nbits',
      bits,
      blockSize: 32,
      outFeatures: N,
      inFeatures: K,
      packed: q.packed,
      scales: q.scales as Float32Array,
      zeroPoints: q.zeroPoints ?? undefined,
    };
  };
  const built = await buildOnnxDecoder(ir, where === 'linear' ? { linear: hook } : { embedding: hook });
  const onnx = await createOnnxCausalLM(ir.config, built.model, [], { device: 'wasm' });
  const tensors = new Map(
    [...ir.tensors].map(([name, t]) => {
      const w = dequantized.get(name);
      return [name, w ? { ...t, read: async () => w.slice() } : t];
    }),
  );
  const refQ = await ReferenceModel.load({ config: ir.config, tensors });
  const d = await compareDecoding(refQ, onnx, prompt, 8);
  await onnx.dispose();
  return { built, dequantized, d };
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
    const d = await compareDecoding(ref, onnx, prompt, 16);
    expect(d.prefill).toBeLessThan(BUDGET.onnxVsReference);
    expect(d.decode).toBeLessThan(BUDGET.onnxVsReference);
    await onnx.dispose();
  });

  it('matches with fused norms, and with weights forced into external data', async () => {
    for (const opts of [{ ops: 'fused' }, { externalDataThreshold: 0 }] as BuildOnnxOptions[]) {
      const onnx = await onnxModel(ir, opts);
      const d = await compareDecoding(ref, onnx, prompt, 16);
      expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.onnxVsReference);
      await onnx.dispose();
    }
  });

  it('stores weights as fp16 at half the size, within the fp16 budget', async () => {
    const fp32 = await buildOnnxDecoder(ir);
    const fp16 = await buildOnnxDecoder(ir, { storage: 'fp16' });
    // Not quite half: the fp32 RoPE tables (32 KiB here) stay fp32.
    expect(fp16.model.byteLength / fp32.model.byteLength).toBeLessThan(0.55);
    const onnx = await onnxModel(ir, { storage: 'fp16' });
    const d = await compareDecoding(ref, onnx, prompt, 16);
    expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.fp16Storage);
    await onnx.dispose();
  });

  it('a linear hook swaps MatMul for MatMulNBits: logits match the reference run on the dequantized weights', async () => {
    for (const [bits, symmetric] of [
      [4, true],
      [4, false],
      [8, true],
    ] as const) {
      const { built, d } = await compareQuantized(ir, prompt, 'linear', bits, symmetric);
      const kinds = new Set(built.tensors.map((t) => t.kind));
      expect(kinds.has(`nbits${bits}`)).toBe(true);
      expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.onnxVsReference);
    }
  });

  it('a quantized embedding (GatherBlockQuantized) and its tied MatMulNBits classifier match the reference on the dequantized table', async () => {
    for (const [bits, symmetric] of [
      [8, true],
      [4, true],
      [4, false],
    ] as const) {
      const { built, dequantized, d } = await compareQuantized(ir, prompt, 'embedding', bits, symmetric);
      expect(dequantized.has('model.embed_tokens.weight')).toBe(true);
      const embed = built.tensors.find((t) => t.name === 'model.embed_tokens.weight')!;
      expect(embed.kind).toBe(`nbits${bits}`);
      expect(embed.bytes).toBe(matMulNBitsBytes(512, 64, { bits, blockSize: 32, symmetric }, 4).total);
      expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.onnxVsReference);
    }
  });

  it('num_logits_to_keep = 1 (as transformers.js feeds while generating) returns only the last row', async () => {
    const onnx = await createOnnxCausalLM(ir.config, (await buildOnnxDecoder(ir)).model, [], { device: 'wasm' });
    const all = await onnx.forward(onnx.createState(), prompt);
    const c = ir.config;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(prompt, (_, i) => BigInt(i)),
        [1, prompt.length],
      ),
      num_logits_to_keep: new ort.Tensor('int64', new BigInt64Array([1n]), []),
    };
    for (let l = 0; l < c.numLayers; l++) {
      for (const kv of ['key', 'value'])
        feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, c.numKvHeads, 0, c.headDim]);
    }
    const out = await onnx.session.run(feeds);
    expect(out.logits!.dims).toEqual([1, 1, c.vocabSize]);
    expect(maxAbsDiff(out.logits!.data as Float32Array, all.subarray(all.length - c.vocabSize))).toBeLessThan(BUDGET.onnxLastLogits);
    expect(out['present.0.key']!.dims).toEqual([1, c.numKvHeads, prompt.length, c.headDim]);
    await onnx.dispose();
  });

  it('keeps the cache intact across a prefill split into chunks', async () => {
    const onnx = await onnxModel(ir);
    const whole = await onnx.forward(onnx.createState(), prompt);
    const s = onnx.createState();
    await onnx.forward(s, prompt.slice(0, 40));
    const tail = await onnx.forward(s, prompt.slice(40));
    expect(maxAbsDiff(tail, whole.subarray(40 * ir.config.vocabSize))).toBeLessThan(BUDGET.onnxVsReference);
    await expect(onnx.forward(s, [ir.config.vocabSize])).rejects.toThrow(/outside the vocabulary/);
    await onnx.dispose();
  });
});

describe('ONNX decoder on synthetic models (bias, untied classifier, fused GroupQueryAttention)', () => {
  // headDim 16: the smallest that onnxruntime's GroupQueryAttention accepts.
  const small = {
    hiddenSize: 64,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    intermediateSize: 96,
    numLayers: 2,
    vocabSize: 300,
    maxPositionEmbeddings: 128,
  };
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
        const d = await compareDecoding(ref, onnx, prompt, 8);
        expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.onnxVsReference);
        await onnx.dispose();
      });
    }
  }
});

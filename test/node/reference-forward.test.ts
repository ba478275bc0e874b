import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { tensorNames } from '../../src/model/tensor-table.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { STORIES_DIR } from './fixture-paths.ts';
import { maxAbsDiff } from './logit-diff.ts';
import { randomLlamaIR, tinyConfig, tokenSequence } from './random-llama.ts';
import { BUDGET } from '../error-budgets.ts';

/**
 * An independent, deliberately naive forward pass: nested number[] arrays in float64, the
 * whole sequence recomputed from scratch, one position and one head at a time, RoPE written
 * literally as Hugging Face's `q * cat(cos, cos) + rotate_half(q) * cat(sin, sin)`.
 */
async function naiveLogits(ir: ModelIR, tokens: number[]): Promise<number[][]> {
  const c: ModelConfig = ir.config;
  const get = async (name: string) => Array.from(await ir.tensors.get(name)!.read());
  const matrix = async (name: string, rows: number, cols: number) => {
    const flat = await get(name);
    return Array.from({ length: rows }, (_, r) => flat.slice(r * cols, (r + 1) * cols));
  };
  const matVec = (w: number[][], x: number[], b?: number[]) =>
    w.map((row, o) => row.reduce((s, wi, i) => s + wi * x[i]!, 0) + (b ? b[o]! : 0));
  const norm = (x: number[], w: number[]) => {
    const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
    return x.map((v, i) => (v / Math.sqrt(ms + c.rmsNormEps)) * w[i]!);
  };
  const rope = (x: number[], pos: number) => {
    const half = c.headDim / 2;
    const freqs = Array.from({ length: half }, (_, i) => pos / c.ropeTheta ** ((2 * i) / c.headDim));
    const cos = [...freqs, ...freqs].map(Math.cos);
    const sin = [...freqs, ...freqs].map(Math.sin);
    const rotated = [...x.slice(half).map((v) => -v), ...x.slice(0, half)];
    return x.map((v, i) => v * cos[i]! + rotated[i]! * sin[i]!);
  };
  const heads = (x: number[], n: number) => Array.from({ length: n }, (_, h) => x.slice(h * c.headDim, (h + 1) * c.headDim));

  const D = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const emb = await matrix(tensorNames.embedding, c.vocabSize, D);
  let xs = tokens.map((t) => [...emb[t]!]);
  for (let l = 0; l < c.numLayers; l++) {
    const n = tensorNames.layer(l);
    const has = (name: string) => ir.tensors.has(name);
    const [wq, wk, wv, wo] = [
      await matrix(n.q, qDim, D),
      await matrix(n.k, kvDim, D),
      await matrix(n.v, kvDim, D),
      await matrix(n.o, D, qDim),
    ];
    const [bq, bk, bv] = [
      has(n.qBias) ? await get(n.qBias) : undefined,
      has(n.kBias) ? await get(n.kBias) : undefined,
      has(n.vBias) ? await get(n.vBias) : undefined,
    ];
    const attnNorm = await get(n.attnNorm);
    const qs = xs.map((x, p) => heads(matVec(wq, norm(x, attnNorm), bq), c.numHeads).map((h) => rope(h, p)));
    const ks = xs.map((x, p) => heads(matVec(wk, norm(x, attnNorm), bk), c.numKvHeads).map((h) => rope(h, p)));
    const vs = xs.map((x) => heads(matVec(wv, norm(x, attnNorm), bv), c.numKvHeads));
    xs = xs.map((x, p) => {
      const attended: number[] = [];
      for (let h = 0; h < c.numHeads; h++) {
        const kv = Math.floor((h * c.numKvHeads) / c.numHeads); // repeat_kv: h // (heads / kvHeads)
        const scores: number[] = [];
        for (let s = 0; s <= p; s++) scores.push(qs[p]![h]!.reduce((a, q, d) => a + q * ks[s]![kv]![d]!, 0) / Math.sqrt(c.headDim));
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < c.headDim; d++) attended.push(e.reduce((a, w, s) => a + (w / z) * vs[s]![kv]![d]!, 0));
      }
      return x.map((v, i) => v + matVec(wo, attended)[i]!);
    });
    const [gate, up, down] = [
      await matrix(n.gate, c.intermediateSize, D),
      await matrix(n.up, c.intermediateSize, D),
      await matrix(n.down, D, c.intermediateSize),
    ];
    const ffnNorm = await get(n.ffnNorm);
    xs = xs.map((x) => {
      const h = norm(x, ffnNorm);
      const g = matVec(gate, h);
      const u = matVec(up, h);
      const act = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]!);
      const out = matVec(down, act);
      return x.map((v, i) => v + out[i]!);
    });
  }
  const finalNorm = await get(tensorNames.finalNorm);
  const cls = ir.tensors.has(tensorNames.classifier) ? await matrix(tensorNames.classifier, c.vocabSize, D) : emb;
  return xs.map((x) => matVec(cls, norm(x, finalNorm)));
}

describe('reference forward pass against a naive implementation', () => {
  const cases: [string, Partial<ModelConfig>][] = [
    ['GQA with q/k/v bias, untied classifier', {}],
    [
      'tied classifier, no bias, multi-query (1 KV head)',
      { tieWordEmbeddings: true, attentionBias: false, numKvHeads: 1, architecture: 'LlamaForCausalLM', family: 'llama' },
    ],
    ['plain multi-head attention, larger head dim', { numHeads: 3, numKvHeads: 3, headDim: 8, ropeTheta: 10000 }],
  ];
  for (const [name, overrides] of cases) {
    it(name, async () => {
      const ir = randomLlamaIR(tinyConfig(overrides), 5);
      const model = await ReferenceModel.load(ir);
      const tokens = tokenSequence(13, ir.config.vocabSize);
      const logits = await model.forward(model.createState(), tokens); // [13, vocab]
      const expected = (await naiveLogits(ir, tokens)).flat();
      const scale = Math.max(...expected.map(Math.abs));
      expect(scale).toBeGreaterThan(1); // the check means something: logits are not tiny
      // fp32 storage of activations against float64 throughout: a few ulps of the scale.
      expect(maxAbsDiff(logits, expected)).toBeLessThan(BUDGET.referenceVsFloat64Relative * scale);
    });
  }
});

/** Logits of `tokens` fed in pieces of the given sizes through one KV cache. */
async function incremental(model: ReferenceModel, tokens: number[], pieces: number[]): Promise<Float32Array> {
  const state = model.createState();
  const out: number[] = [];
  let at = 0;
  for (const size of pieces) {
    out.push(...(await model.forward(state, tokens.slice(at, at + size))));
    at += size;
    expect(state.length).toBe(at);
  }
  return Float32Array.from(out);
}

describe('KV cache: incremental decoding equals one batched pass', () => {
  it('on a random GQA model with bias, across cache growth', async () => {
    const model = await ReferenceModel.load(randomLlamaIR(tinyConfig(), 9));
    const tokens = tokenSequence(40, 37);
    const full = await model.forward(model.createState(), tokens);
    const oneByOne = await incremental(model, tokens, Array(40).fill(1));
    const mixed = await incremental(model, tokens, [7, 1, 1, 12, 3, 16]);
    expect(maxAbsDiff(oneByOne, full)).toBeLessThan(BUDGET.kvCacheVsBatched);
    expect(maxAbsDiff(mixed, full)).toBeLessThan(BUDGET.kvCacheVsBatched);
  });

  it('on the real stories260K model', async () => {
    const folder = await loadModelFolder(STORIES_DIR);
    const model = await ReferenceModel.load(folder.ir);
    const tokens = [1, ...tokenSequence(99, 512, 5)];
    const full = await model.forward(model.createState(), tokens);
    const prefillThenDecode = await incremental(model, tokens, [20, ...Array(80).fill(1)]);
    expect(maxAbsDiff(prefillThenDecode, full)).toBeLessThan(BUDGET.kvCacheVsBatched);
  });
});

describe('reference model input checks', () => {
  it('names a tensor whose shape does not fit the config', async () => {
    const ir = randomLlamaIR(tinyConfig(), 1);
    const tensors = new Map(ir.tensors);
    const k = tensorNames.layer(1).k;
    tensors.set(k, { ...tensors.get(k)!, shape: [7, 24] });
    await expect(ReferenceModel.load({ config: ir.config, tensors })).rejects.toThrow(
      expect.objectContaining({ code: 'bad_file', message: expect.stringContaining(k) }),
    );
  });

  it('requires lm_head when the classifier is not tied', async () => {
    const ir = randomLlamaIR(tinyConfig(), 1);
    const tensors = new Map(ir.tensors);
    tensors.delete(tensorNames.classifier);
    await expect(ReferenceModel.load({ config: ir.config, tensors })).rejects.toThrow(/lm_head\.weight/);
  });

  it('refuses bad token ids, context overflow, foreign states; abort leaves the cache as it was', async () => {
    const model = await ReferenceModel.load(randomLlamaIR(tinyConfig({ maxPositionEmbeddings: 8 }), 1));
    const other = await ReferenceModel.load(randomLlamaIR(tinyConfig({ maxPositionEmbeddings: 8 }), 1));
    const state = model.createState();
    await expect(model.forward(state, [37])).rejects.toThrow(expect.objectContaining({ code: 'bad_argument' }));
    await expect(model.forward(state, [])).rejects.toThrow(expect.objectContaining({ code: 'bad_argument' }));
    await expect(model.forward(other.createState(), [1])).rejects.toThrow(/not created by this reference model/);
    await model.forward(state, [1, 2, 3, 4, 5]);
    await expect(model.forward(state, [1, 2, 3, 4])).rejects.toThrow(/exceed the context length 8/);
    const controller = new AbortController();
    controller.abort();
    await expect(model.forward(state, [6], controller.signal)).rejects.toThrow(expect.objectContaining({ code: 'aborted' }));
    expect(state.length).toBe(5);
    const after = await model.forward(state, [6, 7, 8]);
    const fresh = await model.forward(model.createState(), [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(maxAbsDiff(after, fresh.subarray(5 * 37))).toBeLessThan(BUDGET.kvCacheVsBatched);
  });
});

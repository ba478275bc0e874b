import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config.ts';
import { tensorNames } from '../../src/model/tensor-table.ts';
import { pruneLayerStructured, prunedConfig, structuredCounts } from '../../src/compress/structured-prune.ts';
import { createRng } from '../seeded-random.ts';

function config(over: Partial<ModelConfig>): ModelConfig {
  return {
    architecture: 'LlamaForCausalLM',
    family: 'llama',
    hiddenSize: 16,
    intermediateSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    vocabSize: 32,
    maxPositionEmbeddings: 64,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenId: [2],
    ...over,
  };
}

/** Random tensors of one layer, shaped by `c`, keyed by tensorNames. */
function randomLayer(c: ModelConfig, layer: number, seed: number): Map<string, Float32Array> {
  const r = createRng(seed);
  const rand = (n: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * (0.5 + r()));
  const n = tensorNames.layer(layer);
  const { hiddenSize: d, intermediateSize: f, numHeads: h, numKvHeads: kv, headDim: hd } = c;
  const t = new Map<string, Float32Array>([
    [n.attnNorm, rand(d)],
    [n.ffnNorm, rand(d)],
    [n.q, rand(h * hd * d)],
    [n.k, rand(kv * hd * d)],
    [n.v, rand(kv * hd * d)],
    [n.o, rand(d * h * hd)],
    [n.gate, rand(f * d)],
    [n.up, rand(f * d)],
    [n.down, rand(d * f)],
  ]);
  if (c.attentionBias) {
    t.set(n.qBias, rand(h * hd));
    t.set(n.kBias, rand(kv * hd));
    t.set(n.vBias, rand(kv * hd));
  }
  return t;
}

/** y = W x for W [rows, cols]; accumulates in ascending column order. */
function matVec(w: Float32Array, rows: number, cols: number, x: ArrayLike<number>, bias?: Float32Array): number[] {
  const y: number[] = [];
  for (let i = 0; i < rows; i++) {
    let s = bias ? bias[i]! : 0;
    for (let j = 0; j < cols; j++) s += w[i * cols + j]! * x[j]!;
    y.push(s);
  }
  return y;
}

/** Scalar SwiGLU: down(silu(gate x) * up x). */
function ffn(t: Map<string, Float32Array>, c: ModelConfig, layer: number, x: number[]): number[] {
  const n = tensorNames.layer(layer);
  const g = matVec(t.get(n.gate)!, c.intermediateSize, c.hiddenSize, x);
  const u = matVec(t.get(n.up)!, c.intermediateSize, c.hiddenSize, x);
  const h = g.map((z, i) => (z / (1 + Math.exp(-z))) * u[i]!);
  return matVec(t.get(n.down)!, c.hiddenSize, c.intermediateSize, h);
}

/** Scalar causal grouped-query attention over a sequence xs (no RoPE: it acts within a head). */
function attention(t: Map<string, Float32Array>, c: ModelConfig, layer: number, xs: number[][]): number[][] {
  const n = tensorNames.layer(layer);
  const { hiddenSize: d, numHeads: h, numKvHeads: kv, headDim: hd } = c;
  const q = xs.map((x) => matVec(t.get(n.q)!, h * hd, d, x, t.get(n.qBias)));
  const k = xs.map((x) => matVec(t.get(n.k)!, kv * hd, d, x, t.get(n.kBias)));
  const v = xs.map((x) => matVec(t.get(n.v)!, kv * hd, d, x, t.get(n.vBias)));
  return xs.map((_, pos) => {
    const ctx = new Array<number>(h * hd).fill(0);
    for (let head = 0; head < h; head++) {
      const g = Math.floor(head / (h / kv));
      const logits = [];
      for (let s = 0; s <= pos; s++) {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += q[pos]![head * hd + i]! * k[s]![g * hd + i]!;
        logits.push(dot / Math.sqrt(hd));
      }
      const max = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let s = 0; s <= pos; s++) {
        for (let i = 0; i < hd; i++) ctx[head * hd + i]! += (e[s]! / sum) * v[s]![g * hd + i]!;
      }
    }
    return matVec(t.get(n.o)!, d, h * hd, ctx);
  });
}

const norm = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + x * x, 0));
function rowOf(w: Float32Array, cols: number, r: number): number[] {
  return Array.from(w.subarray(r * cols, (r + 1) * cols));
}
function colOf(w: Float32Array, rows: number, cols: number, c: number): number[] {
  return Array.from({ length: rows }, (_, r) => w[r * cols + c]!);
}
/** Indices 0..n-1 sorted by descending score, lower index first among ties for pruning. */
function topSorted(scores: number[], keep: number): number[] {
  return scores
    .map((s, i) => [s, i] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .slice(scores.length - keep)
    .map(([, i]) => i)
    .sort((a, b) => a - b);
}

describe('structured pruning', () => {
  it('maps fractions to counts and configs (round half up, whole KV groups)', () => {
    const stories = config({ hiddenSize: 64, intermediateSize: 172, numHeads: 8, numKvHeads: 4, headDim: 8 });
    expect(prunedConfig(stories, { ffnFraction: 0.25, headsFraction: 0.25 })).toMatchObject({
      intermediateSize: 129,
      numKvHeads: 3,
      numHeads: 6,
      headDim: 8,
      hiddenSize: 64,
    });
    expect(prunedConfig(stories, { ffnFraction: 0, headsFraction: 0.5 })).toMatchObject({
      intermediateSize: 172,
      numKvHeads: 2,
      numHeads: 4,
    });
    const qwen = config({ hiddenSize: 896, intermediateSize: 4864, numHeads: 14, numKvHeads: 2, headDim: 64 });
    expect(structuredCounts(qwen, { ffnFraction: 0.25, headsFraction: 0.25 })).toEqual({
      ffnRemoved: 1216,
      ffnKept: 3648,
      groupsRemoved: 1,
      groupsKept: 1,
      headsPerGroup: 7,
    });
    expect(() => structuredCounts(qwen, { ffnFraction: 0, headsFraction: 0.75 })).toThrow(
      'removing 2 of 2 KV groups leaves none; at least one group must remain',
    );
    expect(() => structuredCounts(config({ intermediateSize: 10 }), { ffnFraction: 0.99, headsFraction: 0 })).toThrow(
      /removing 10 of 10 FFN channels/,
    );
  });

  for (const attentionBias of [false, true]) {
    const c = config({ attentionBias, numHeads: 6, numKvHeads: 3, headDim: 4, hiddenSize: 16 });
    const plan = { ffnFraction: 0.25, headsFraction: 0.34 }; // removes 6 of 24 channels, 1 of 3 groups
    const layer = 1;
    const full = randomLayer(c, layer, attentionBias ? 11 : 7);
    const { tensors: pruned, keptChannels, keptGroups } = pruneLayerStructured(c, layer, full, plan);
    const pc = prunedConfig(c, plan);
    const n = tensorNames.layer(layer);
    const r = createRng(3);
    const xs = Array.from({ length: 5 }, () => Array.from({ length: c.hiddenSize }, () => r() * 2 - 1));

    it(`keeps the channels and groups with the highest weight-norm scores, in order (bias ${attentionBias})`, () => {
      const d = c.hiddenSize,
        f = c.intermediateSize,
        hd = c.headDim;
      const ffnScores = Array.from(
        { length: f },
        (_, ch) => norm(rowOf(full.get(n.gate)!, d, ch)) * norm(rowOf(full.get(n.up)!, d, ch)) * norm(colOf(full.get(n.down)!, d, f, ch)),
      );
      expect(Array.from(keptChannels)).toEqual(topSorted(ffnScores, pc.intermediateSize));
      const groupScores = Array.from({ length: c.numKvHeads }, (_, g) => {
        const own: number[] = [];
        own.push(...full.get(n.q)!.subarray(g * 2 * hd * d, (g + 1) * 2 * hd * d)); // 2 query heads per group
        own.push(...full.get(n.k)!.subarray(g * hd * d, (g + 1) * hd * d), ...full.get(n.v)!.subarray(g * hd * d, (g + 1) * hd * d));
        for (let col = g * 2 * hd; col < (g + 1) * 2 * hd; col++) own.push(...colOf(full.get(n.o)!, d, c.numHeads * hd, col));
        return norm(own);
      });
      expect(Array.from(keptGroups)).toEqual(topSorted(groupScores, pc.numKvHeads));
      expect(pruned.get(n.attnNorm)).toBe(full.get(n.attnNorm));
      expect(pruned.get(n.gate)!.length).toBe(pc.intermediateSize * d);
      expect(pruned.get(n.o)!.length).toBe(d * pc.numHeads * hd);
    });

    it(`pruned FFN equals the full FFN with the removed channels zeroed (bias ${attentionBias})`, () => {
      const zeroed = new Map(full);
      const down = Float32Array.from(full.get(n.down)!);
      for (let ch = 0; ch < c.intermediateSize; ch++) {
        if (keptChannels.includes(ch)) continue;
        for (let row = 0; row < c.hiddenSize; row++) down[row * c.intermediateSize + ch] = 0;
      }
      zeroed.set(n.down, down);
      for (const x of xs) expect(ffn(pruned, pc, layer, x)).toEqual(ffn(zeroed, c, layer, x));
    });

    it(`pruned attention equals the full attention with the removed heads' output columns zeroed (bias ${attentionBias})`, () => {
      const zeroed = new Map(full);
      const qw = c.numHeads * c.headDim;
      const o = Float32Array.from(full.get(n.o)!);
      for (let head = 0; head < c.numHeads; head++) {
        if (keptGroups.includes(Math.floor(head / 2))) continue;
        for (let row = 0; row < c.hiddenSize; row++) o.fill(0, row * qw + head * c.headDim, row * qw + (head + 1) * c.headDim);
      }
      zeroed.set(n.o, o);
      const want = attention(zeroed, c, layer, xs);
      const got = attention(pruned, pc, layer, xs);
      for (let p = 0; p < xs.length; p++) {
        for (let i = 0; i < c.hiddenSize; i++) expect(got[p]![i]).toBeCloseTo(want[p]![i]!, 12);
      }
    });
  }

  it('uses given scores instead of the weight norms (calibration hook)', () => {
    const c = config({});
    const t = randomLayer(c, 0, 5);
    const ffnScores = Float32Array.from({ length: 24 }, (_, i) => (i * 7) % 24); // a permutation of 0..23
    const { keptChannels, keptGroups } = pruneLayerStructured(
      c,
      0,
      t,
      { ffnFraction: 0.5, headsFraction: 0.5 },
      { ffn: ffnScores, groups: new Float32Array([2, 1]) },
    );
    expect(Array.from(keptChannels)).toEqual(Array.from({ length: 24 }, (_, i) => i).filter((i) => ffnScores[i]! >= 12));
    expect(Array.from(keptGroups)).toEqual([0]);
    expect(() => pruneLayerStructured(c, 0, t, { ffnFraction: 0.5, headsFraction: 0 }, { ffn: new Float32Array(3) })).toThrow(
      'layer 0: expected 24 FFN channel scores, got 3',
    );
  });

  it('rejects tensors whose size does not match the config, naming them', () => {
    const c = config({});
    const t = randomLayer(c, 0, 1);
    t.set(tensorNames.layer(0).up, new Float32Array(5));
    expect(() => pruneLayerStructured(c, 0, t, { ffnFraction: 0.5, headsFraction: 0 })).toThrow(
      `${tensorNames.layer(0).up}: expected ${24 * 16} values from the config, got 5`,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { applyRepetitionPenalty, argmax, candidateDistribution, createRng, sampleToken, Sampler } from '../../src/runtime/sampler.ts';
import { BUDGET } from '../error-budgets.ts';

/** Logits whose softmax at temperature 1 is exactly `probs`. */
const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

function histogram(draw: () => number, n: number, size: number): number[] {
  const counts = new Array<number>(size).fill(0);
  for (let i = 0; i < n; i++) counts[draw()]!++;
  return counts;
}

describe('greedy', () => {
  it('is the argmax, the first one on ties, whatever the seed', () => {
    const logits = Float32Array.from([0.1, 3, -2, 3, 2.9]);
    expect(argmax(logits)).toBe(1);
    for (const seed of [0, 1, 99]) expect(sampleToken(logits, { temperature: 0, seed }, createRng(seed))).toBe(1);
    expect(new Sampler().next(logits)).toBe(1); // temperature defaults to 0
  });
});

describe('seeded randomness', () => {
  it('the same seed gives the same tokens; another seed gives others', () => {
    const logits = logitsOf([0.2, 0.2, 0.2, 0.2, 0.2]);
    const run = (seed: number) => {
      const s = new Sampler({ temperature: 1, seed });
      return Array.from({ length: 50 }, () => s.next(logits));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it('mulberry32 is uniform on [0, 1)', () => {
    const rng = createRng(7);
    const values = Array.from({ length: 20000 }, rng);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(BUDGET.samplerMean);
  });
});

describe('temperature sampling', () => {
  it('draws with the softmax probabilities', () => {
    const probs = [0.5, 0.3, 0.15, 0.05];
    const s = new Sampler({ temperature: 1, seed: 5 });
    const counts = histogram(() => s.next(logitsOf(probs)), 20000, 4);
    counts.forEach((c, i) => expect(Math.abs(c / 20000 - probs[i]!)).toBeLessThan(BUDGET.samplerFrequency));
  });

  it('low temperature sharpens, high temperature flattens', () => {
    const logits = logitsOf([0.5, 0.3, 0.15, 0.05]);
    expect(candidateDistribution(logits, 0.25).probs[0]).toBeGreaterThan(0.85);
    expect(candidateDistribution(logits, 4).probs[0]).toBeLessThan(0.35);
  });
});

describe('top-k and top-p restrict the support', () => {
  const probs = [0.05, 0.3, 0.15, 0.5];
  it('top-k keeps the k most likely tokens, renormalised', () => {
    const { ids, probs: p } = candidateDistribution(logitsOf(probs), 1, 2);
    expect(ids).toEqual([3, 1]);
    expect(p[0]).toBeCloseTo(0.5 / 0.8, 6);
    const s = new Sampler({ temperature: 1, topK: 2, seed: 1 });
    const counts = histogram(() => s.next(logitsOf(probs)), 5000, 4);
    expect(counts[0]).toBe(0);
    expect(counts[2]).toBe(0);
    expect(counts[1]! + counts[3]!).toBe(5000);
    expect(counts[1]).toBeGreaterThan(0);
  });

  it('top-p keeps the smallest set whose mass reaches p', () => {
    expect(candidateDistribution(logitsOf(probs), 1, 0, 0.8).ids).toEqual([3, 1]);
    expect(candidateDistribution(logitsOf(probs), 1, 0, 0.81).ids).toEqual([3, 1, 2]);
    expect(candidateDistribution(logitsOf(probs), 1, 0, 0.01).ids).toEqual([3]); // never empty
    const s = new Sampler({ temperature: 1, topP: 0.8, seed: 3 });
    const counts = histogram(() => s.next(logitsOf(probs)), 5000, 4);
    expect(counts[0]! + counts[2]!).toBe(0);
  });

  it('top-k then top-p', () => {
    expect(candidateDistribution(logitsOf(probs), 1, 3, 0.7).ids).toEqual([3, 1]);
  });
});

describe('candidate selection on a large vocabulary, with ties', () => {
  /** Brute force: sort everything, cut at k, then at the mass topP. */
  function reference(logits: Float32Array, temperature: number, topK: number, topP: number): number[] {
    let ids = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
    if (topK > 0) ids = ids.slice(0, topK);
    const w = ids.map((id) => Math.exp((logits[id]! - logits[ids[0]!]!) / temperature));
    const total = w.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    for (let n = 0; n < ids.length; n++) {
      cumulative += w[n]!;
      if (cumulative >= topP * total) return ids.slice(0, n + 1);
    }
    return ids;
  }

  it('matches a full sort for top-k, top-p and both', () => {
    const rng = createRng(17);
    for (let trial = 0; trial < 6; trial++) {
      // Logits on a coarse grid, so that many tokens tie, including at the cut.
      const logits = Float32Array.from({ length: 5000 }, () => Math.round(rng() * 24) / 2);
      for (const [topK, topP] of [
        [1, 1],
        [40, 1],
        [333, 1],
        [0, 0.5],
        [0, 0.95],
        [100, 0.9],
        [4999, 0.99],
      ] as const) {
        const { ids, probs } = candidateDistribution(logits, 0.8, topK, topP);
        expect(ids).toEqual(reference(logits, 0.8, topK, topP));
        expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      }
    }
  });
});

describe('repetition penalty', () => {
  it('lowers the logits of tokens already seen, positive or negative', () => {
    const logits = Float32Array.from([2, -1, 0.5, 3]);
    const out = applyRepetitionPenalty(logits, [0, 1, 1], 2);
    expect(Array.from(out)).toEqual([1, -2, 0.5, 3]);
    expect(Array.from(logits)).toEqual([2, -1, 0.5, 3]); // input untouched
  });

  it('turns a greedy repeat into another token', () => {
    const logits = Float32Array.from([0, 2, 1.5]);
    expect(sampleToken(logits, {}, createRng(0), [1])).toBe(1);
    expect(sampleToken(logits, { repetitionPenalty: 1.5 }, createRng(0), [1])).toBe(2);
  });
});

describe('options are checked', () => {
  it.each([
    [{ temperature: -1 }, /temperature/],
    [{ topK: 1.5 }, /topK/],
    [{ topP: 0 }, /topP/],
    [{ repetitionPenalty: 0 }, /repetitionPenalty/],
  ])('%o', (opts, message) => {
    expect(() => new Sampler(opts)).toThrow(message);
  });
});

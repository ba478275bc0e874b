import { describe, expect, it } from 'vitest';
import { nmMask, nmScoreMask, satisfiesNm } from '../../src/kernels/prune/n-m.ts';
import { applyMask } from '../../src/kernels/prune/magnitude.ts';
import { randomFloats } from '../seeded-random.ts';

/** Independent reference: sort each group by (score, index), prune the first m - n. */
function referenceNm(scores: Float32Array, n: number, m: number): Uint8Array {
  const mask = new Uint8Array(scores.length).fill(1);
  for (let g = 0; g < scores.length; g += m) {
    const idx = Array.from({ length: m }, (_, i) => g + i).sort((a, b) => scores[a]! - scores[b]! || a - b);
    for (let i = 0; i < m - n; i++) mask[idx[i]!] = 0;
  }
  return mask;
}

const patterns: Array<[number, number]> = [
  [2, 4],
  [1, 4],
  [3, 4],
  [4, 8],
  [2, 8],
  [8, 16],
  [0, 4],
  [4, 4],
];

describe('nmMask', () => {
  it('keeps exactly N of every M along K, in every row', () => {
    const N = 12,
      K = 64;
    for (const [n, m] of patterns) {
      const w = randomFloats(N * K, n * 31 + m);
      const mask = nmMask(w, N, K, { n, m });
      for (let g = 0; g < N * K; g += m) {
        expect(mask.subarray(g, g + m).reduce((s, x) => s + x, 0)).toBe(n);
      }
      expect(satisfiesNm(applyMask(Float32Array.from(w), mask), N, K, { n, m })).toBe(true);
    }
  });

  it('keeps the largest magnitudes of each group (random and heavily tied weights)', () => {
    const N = 6,
      K = 48;
    let seed = 1;
    for (const [n, m] of patterns) {
      for (const levels of [0, 2]) {
        const w = randomFloats(N * K, seed++, levels);
        expect(nmMask(w, N, K, { n, m })).toEqual(referenceNm(Float32Array.from(w, Math.abs), n, m));
      }
    }
  });

  it('prunes the lower index first among equal magnitudes', () => {
    expect(Array.from(nmMask(new Float32Array([1, -1, 1, -1, 0, 0, 0, 0]), 1, 8, { n: 2, m: 4 }))).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    expect(Array.from(nmMask(new Float32Array([0.5, -3, 0.5, 2]), 1, 4, { n: 2, m: 4 }))).toEqual([0, 1, 0, 1]);
  });

  it('uses an importance score when given one', () => {
    const N = 4,
      K = 16;
    const scores = randomFloats(N * K, 9, 3); // signed scores: the lowest (most negative) go
    expect(nmScoreMask(scores, N, K, { n: 2, m: 4 })).toEqual(referenceNm(scores, 2, 4));
  });

  it('rejects K not divisible by M and impossible patterns, naming the tensor', () => {
    const w = new Float32Array(2 * 172);
    expect(() => nmMask(w, 2, 172, { n: 4, m: 8 }, 'model.layers.0.mlp.down_proj.weight')).toThrow(
      'model.layers.0.mlp.down_proj.weight: input size K = 172 is not a multiple of M = 8, so 4:8 groups do not tile the rows',
    );
    expect(() => nmMask(new Float32Array(8), 2, 4, { n: 3, m: 2 })).toThrow(/N in 0..M \(2\), got 3/);
    expect(() => nmMask(new Float32Array(8), 2, 4, { n: 1, m: 0 })).toThrow(/group size M must be an integer/);
    expect(() => nmScoreMask(new Float32Array([1, NaN, 0, 0]), 1, 4, { n: 2, m: 4 })).toThrow(/index 1 is NaN/);
  });
});

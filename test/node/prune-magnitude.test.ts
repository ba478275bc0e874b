import { describe, expect, it } from 'vitest';
import { applyMask, magnitudeMask, maskSparsity, scoreMask, type PruneScope } from '../../src/kernels/prune/magnitude.ts';
import { randomFloats } from '../seeded-random.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/**
 * Independent reference: sort the indices of each scope by (score, index) and prune the
 * first round(sparsity * size) of them — the documented rule, written the obvious way.
 */
function referenceMask(scores: Float32Array, N: number, K: number, sparsity: number, scope: PruneScope): Uint8Array {
  const mask = new Uint8Array(N * K).fill(1);
  const scopes = scope === 'row' ? Array.from({ length: N }, (_, r) => [r * K, K]) : [[0, N * K]];
  for (const [start, size] of scopes) {
    const idx = Array.from({ length: size }, (_, i) => start + i);
    idx.sort((a, b) => scores[a]! - scores[b]! || a - b);
    const count = Math.round(sparsity * size);
    for (let i = 0; i < count; i++) mask[idx[i]!] = 0;
  }
  return mask;
}

const abs = (w: Float32Array) => Float32Array.from(w, Math.abs);

describe('magnitudeMask', () => {
  const shapes: Array<[number, number]> = [
    [1, 1],
    [1, 7],
    [3, 5],
    [16, 64],
    [7, 172],
    [64, 33],
  ];
  const sparsities = [0, 0.1, 0.25, 0.5, 0.5001, 0.7, 0.9, 1];
  for (const scope of ['row', 'tensor'] as const) {
    it(`matches the sort-based reference on random weights (${scope})`, () => {
      let seed = 1;
      for (const [N, K] of shapes) {
        for (const s of sparsities) {
          const w = randomFloats(N * K, seed++);
          expect(magnitudeMask(w, N, K, { sparsity: s, scope })).toEqual(referenceMask(abs(w), N, K, s, scope));
        }
      }
    });

    it(`matches the reference with heavy ties, including +x/-x and +0/-0 (${scope})`, () => {
      let seed = 100;
      for (const [N, K] of shapes) {
        for (const s of sparsities) {
          const w = randomFloats(N * K, seed++, 3); // values in {-1, -2/3, ..., 1}
          if (w.length > 2) w[1] = -0;
          expect(magnitudeMask(w, N, K, { sparsity: s, scope })).toEqual(referenceMask(abs(w), N, K, s, scope));
        }
      }
    });

    it(`prunes the lower index first when all weights are equal (${scope})`, () => {
      const N = 4,
        K = 10;
      const mask = magnitudeMask(new Float32Array(N * K).fill(0.5), N, K, { sparsity: 0.3, scope });
      if (scope === 'row') {
        for (let r = 0; r < N; r++) expect(Array.from(mask.subarray(r * K, r * K + K))).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
      } else {
        expect(Array.from(mask)).toEqual([...Array(12).fill(0), ...Array(28).fill(1)]);
      }
    });
  }

  it('zeroes exactly round(sparsity * size) per scope', () => {
    const N = 9,
      K = 37;
    const w = randomFloats(N * K, 7);
    const rows = magnitudeMask(w, N, K, { sparsity: 0.5, scope: 'row' });
    for (let r = 0; r < N; r++) {
      expect(rows.subarray(r * K, r * K + K).reduce((z, m) => z + (m === 0 ? 1 : 0), 0)).toBe(19); // round(18.5) = 19
    }
    const all = magnitudeMask(w, N, K, { sparsity: 0.5, scope: 'tensor' });
    expect(maskSparsity(all)).toBe(Math.round(0.5 * N * K) / (N * K));
  });

  it('handles extreme magnitudes (denormals, huge values, infinities)', () => {
    const w = new Float32Array([1e-45, -3e38, Infinity, -1e-40, 0, 2, -Infinity, 1e-38]);
    const mask = magnitudeMask(w, 1, 8, { sparsity: 0.5, scope: 'row' });
    expect(mask).toEqual(referenceMask(abs(w), 1, 8, 0.5, 'row'));
    expect(Array.from(mask)).toEqual([0, 1, 1, 0, 0, 1, 1, 0]);
  });
});

describe('scoreMask', () => {
  it('prunes by the given importance, not by |w| (Wanda-style scores, negative values allowed)', () => {
    const N = 8,
      K = 48;
    const scores = randomFloats(N * K, 42, 5); // signed, tied
    for (const scope of ['row', 'tensor'] as const) {
      expect(scoreMask(scores, N, K, { sparsity: 0.5, scope })).toEqual(referenceMask(scores, N, K, 0.5, scope));
    }
  });

  it('rejects NaN scores, wrong lengths and bad sparsity with clear errors', () => {
    const bad = new Float32Array([1, NaN, 2, 3]);
    expect(() => scoreMask(bad, 2, 2, { sparsity: 0.5, scope: 'row' }, 'q_proj')).toThrow(/q_proj: score at index 1 is NaN/);
    expect(() => scoreMask(new Float32Array(5), 2, 2, { sparsity: 0.5, scope: 'row' })).toThrow(/expected 2\*2 = 4 values/);
    expect(() => scoreMask(new Float32Array(4), 2, 2, { sparsity: 1.5, scope: 'row' })).toThrow(/sparsity must be a fraction/);
    expectShrinkrayError(() => scoreMask(new Float32Array(4), 0, 4, { sparsity: 0.5, scope: 'row' }), 'bad_argument');
  });
});

describe('applyMask', () => {
  it('zeroes exactly the masked weights in place', () => {
    const w = new Float32Array([1, -2, 3, -4]);
    const out = applyMask(w, new Uint8Array([1, 0, 0, 1]));
    expect(out).toBe(w);
    expect(Array.from(w)).toEqual([1, 0, 0, -4]);
    expect(() => applyMask(w, new Uint8Array(3))).toThrow(/mask has 3 entries/);
  });
});

import { createRng } from '../src/runtime/sampler.ts';

/**
 * Seeded randomness for tests, so a failure reproduces with the same numbers. Two streams,
 * each kept because existing tests were written (and their cases chosen) against it.
 */

/** mulberry32 on [0, 1): the generator the sampler uses. */
export { createRng };

/**
 * n floats uniform on [-1, 1) from mulberry32(seed). levels > 0 rounds each to a multiple of
 * 1 / levels, so many ties (and both signs of equal magnitude) occur.
 */
export function randomFloats(n: number, seed: number, levels = 0): Float32Array {
  const r = createRng(seed);
  return Float32Array.from({ length: n }, () => {
    const x = r() * 2 - 1;
    return levels > 0 ? Math.round(x * levels) / levels : x;
  });
}

/** A 32-bit linear congruential generator (Numerical Recipes constants) on [-0.5, 0.5). */
export function lcgRng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/**
 * A seeded uniform generator on [0, 1): mulberry32, 32 bits of state. Integer arithmetic
 * only, so every engine (Node, any browser) draws the same sequence for a seed: the
 * sampler's draws and the calibration windows picked by a seed reproduce anywhere.
 */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

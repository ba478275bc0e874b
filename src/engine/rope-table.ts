import type { ModelConfig } from '../model/config.ts';

/**
 * Rotary angles for consecutive positions, as the builder's tables hold them
 * (src/build/attention.ts ropeTables): computed in float64, rounded once to f32.
 *   cos, sin: f32 [T, headDim/2] for positions start .. start+T-1
 */
export function ropeRows(c: ModelConfig, start: number, T: number, cos: Float32Array, sin: Float32Array): void {
  const hd = c.headDim;
  const half = hd / 2;
  for (let i = 0; i < half; i++) {
    const invFreq = 1 / Math.pow(c.ropeTheta, (2 * i) / hd);
    for (let t = 0; t < T; t++) {
      const a = (start + t) * invFreq;
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
}

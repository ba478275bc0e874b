import type { ModelConfig } from '../model/config.ts';
import { ropeInverseFrequencies } from '../model/rope-frequencies.ts';

/**
 * Rotary angles for consecutive positions, as the builder's tables hold them
 * (src/build/attention.ts ropeTables): computed in float64, rounded once to f32.
 *   cos, sin: f32 [T, headDim/2] for positions start .. start+T-1
 */
export function ropeRows(c: ModelConfig, start: number, T: number, cos: Float32Array, sin: Float32Array): void {
  const invFreq = ropeInverseFrequencies(c); // [headDim/2]
  const half = invFreq.length;
  for (let i = 0; i < half; i++) {
    for (let t = 0; t < T; t++) {
      const a = (start + t) * invFreq[i]!;
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
}

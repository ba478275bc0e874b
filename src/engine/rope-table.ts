import type { ModelConfig } from '../model/config.ts';
import { ropeAttentionScale, ropeInverseFrequencies, usesComputedRope } from '../model/rope-frequencies.ts';

/**
 * Rotary angles for consecutive positions, as the builder's tables hold them
 * (src/build/attention.ts ropeTables, gathered-rope.ts): computed in float64, rounded once to
 * f32, scaled by LongRoPE's attention factor, LongRoPE's factors chosen by `seqLen`, the length
 * of the sequence once the forward call is done (transformers switches per call).
 *   cos, sin: f32 [T, rotary/2] for positions start .. start+T-1
 */
export function ropeRows(c: ModelConfig, start: number, T: number, cos: Float32Array, sin: Float32Array, seqLen = start + T): void {
  const invFreq = ropeInverseFrequencies(c, seqLen); // [rotary/2]
  const half = invFreq.length;
  const scale = ropeAttentionScale(c);
  // Gemma 3's graph computes its angles as fp32 products (src/build/computed-rope.ts): the engine takes the same angles.
  const f32 = usesComputedRope(c);
  for (let i = 0; i < half; i++) {
    const inv = f32 ? Math.fround(invFreq[i]!) : invFreq[i]!;
    for (let t = 0; t < T; t++) {
      const a = f32 ? Math.fround(Math.fround(start + t) * inv) : (start + t) * inv;
      cos[t * half + i] = scale === 1 ? Math.cos(a) : Math.cos(a) * scale;
      sin[t * half + i] = scale === 1 ? Math.sin(a) : Math.sin(a) * scale;
    }
  }
}

import type { ModelConfig } from './config.ts';

/**
 * The inverse frequency of each rotated pair, i < headDim/2: theta^(-2i / headDim), rescaled
 * when the config carries rope scaling. Float64; every RoPE table (reference forward, ONNX
 * builder, CPU engine) derives its angles p · invFreq[i] from these, so they cannot disagree.
 */
export function ropeInverseFrequencies(c: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(c.ropeTheta, (2 * i) / c.headDim);
  const s = c.ropeScaling;
  if (!s) return inv;
  const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor; // longer waves: stretched
  const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor; // shorter waves: kept
  for (let i = 0; i < half; i++) {
    const f = inv[i]!;
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowFreqWavelen) inv[i] = f / s.factor;
    else if (wavelen >= highFreqWavelen) {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[i] = (1 - smooth) * (f / s.factor) + smooth * f;
    }
  }
  return inv;
}

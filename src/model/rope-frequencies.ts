import { rotaryDims, type ModelConfig } from './config.ts';

type RopeFields = Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'> & Partial<Pick<ModelConfig, 'rotaryDim'>>;

/**
 * Whether a forward call whose sequence (cached positions plus the new ones) is `seqLen` long
 * turns its new positions with LongRoPE's long factors: transformers' longrope_frequency_update
 * switches on max(position_ids) + 1 > original_max_position_embeddings, per call, and the
 * positions already cached keep the rotation they were stored with.
 */
export function usesLongFactors(c: Pick<ModelConfig, 'ropeScaling'>, seqLen: number): boolean {
  const s = c.ropeScaling;
  return s?.ropeType === 'longrope' && seqLen > s.originalMaxPositionEmbeddings;
}

/** What cos and sin are multiplied by: LongRoPE's attention factor, 1 for every other RoPE. */
export function ropeAttentionScale(c: Pick<ModelConfig, 'ropeScaling'>): number {
  return c.ropeScaling?.ropeType === 'longrope' ? c.ropeScaling.attentionFactor : 1;
}

/**
 * The inverse frequency of each rotated pair, i < rotary dims / 2: theta^(-2i / rotary dims)
 * (the rotary dims are the whole head unless partial_rotary_factor says less), rescaled when
 * the config carries rope scaling; LongRoPE's factors are chosen by `seqLen`, the length of
 * the sequence after the forward call (usesLongFactors). Float64; every RoPE table (reference
 * forward, ONNX builder, CPU engine, calibration) derives its angles p · invFreq[i] from these,
 * so they cannot disagree.
 */
export function ropeInverseFrequencies(c: RopeFields, seqLen = 0): Float64Array {
  const dim = rotaryDims(c);
  const half = dim / 2;
  const inv = new Float64Array(half);
  const s = c.ropeScaling;
  if (s?.ropeType === 'longrope') {
    // transformers: 1 / (ext_factors * base ** (2i / dim)).
    const ext = usesLongFactors(c, seqLen) ? s.longFactor : s.shortFactor;
    for (let i = 0; i < half; i++) inv[i] = 1 / (ext[i]! * Math.pow(c.ropeTheta, (2 * i) / dim));
    return inv;
  }
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(c.ropeTheta, (2 * i) / dim);
  if (!s) return inv;
  if (s.ropeType === 'linear') return inv.map((f) => f / s.factor); // positions / factor
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

/**
 * Whether the graph computes RoPE from position_ids and turns q and k before its attention
 * (src/build/computed-rope.ts): Gemma 3, whose head_dim 256 and two bases would make stored tables
 * most of a small model. The angles are fp32 products there, as transformers computes them.
 */
export function usesComputedRope(c: Pick<ModelConfig, 'family'>): boolean {
  return c.family === 'gemma3_text';
}

/** Whether the graph turns q and k from gathered tables before its attention (src/build/gathered-rope.ts): LongRoPE or partial rotary. */
export function usesGatheredRope(c: ModelConfig): boolean {
  return c.ropeScaling?.ropeType === 'longrope' || rotaryDims(c) !== c.headDim;
}

/** The row layout of the gathered tables: `shortRows` rows of short factors, then `longRows` (0 when no switch can happen). */
export function gatheredRopeRows(c: ModelConfig): { shortRows: number; longRows: number; switchAt: number } {
  const maxPos = c.maxPositionEmbeddings;
  const s = c.ropeScaling;
  const switchAt = s?.ropeType === 'longrope' ? s.originalMaxPositionEmbeddings : maxPos;
  return switchAt < maxPos ? { shortRows: switchAt, longRows: maxPos, switchAt } : { shortRows: maxPos, longRows: 0, switchAt };
}

import { floatToHalf, halfToFloat } from '../kernels/half.ts';
import { dequantizeNBits, type RtnQuantizer } from '../kernels/quantize/index.ts';
import type { RtnResult } from '../kernels/quantize/rtn-options.ts';
import { containerBits, dequantizeCodes, packNBits, rtnCodes, type NBitsCodes } from '../kernels/quantize/nbits-codes.ts';
import type { NBitsWeight } from '../build/linear-weight.ts';
import type { BlockQuant } from './plan.ts';

/**
 * A linear weight W [N, K] as a MatMulNBits weight, plus the values it stands for (what the
 * calibrated forward pass multiplies by, and what the per-tensor error is measured on).
 * Widths the RTN kernels take (2, 4, 8) go through them; 3-bit codes are computed by the
 * scalar rule and stored in the 4-bit container (nbits-codes.ts).
 */
export interface QuantizedLinear {
  weight: NBitsWeight;
  values: Float32Array; // [N, K] dequantized
  bytes: number;
}

export async function rtnLinear(
  w: Float32Array,
  N: number,
  K: number,
  q: BlockQuant,
  quantizer: RtnQuantizer,
  name: string,
): Promise<QuantizedLinear> {
  if (containerBits(q.bits) !== q.bits) return packedLinear(rtnCodes(w, N, K, q), N, K, q);
  // Scales stay fp32: MatMulNBits' scale type must match its fp32 activations in our graph.
  const r = await quantizer.quantizeRtn(w, N, K, { bits: q.bits, blockSize: q.blockSize, symmetric: q.symmetric, scaleDtype: 'f32', name });
  const weight = nbitsWeight(r, q.bits, N, K, q.blockSize);
  return { weight, values: dequantizeNBits(r, N, K, q), bytes: nbitsBytes(weight) };
}

/** Codes chosen elsewhere (GPTQ, 3-bit RTN) packed in their container width. */
export function packedLinear(codes: NBitsCodes, N: number, K: number, q: BlockQuant): QuantizedLinear {
  const weight = nbitsWeight(packNBits(codes, N, K, q), containerBits(q.bits), N, K, q.blockSize);
  return { weight, values: dequantizeCodes(codes, N, K, q.blockSize), bytes: nbitsBytes(weight) };
}

/** The builder's form of packed codes: [N, K/block, block*bits/8] bytes, N*K/block fp32 scales, zero points when asymmetric. */
function nbitsWeight(
  r: Pick<RtnResult, 'packed' | 'scales' | 'zeroPoints'>,
  bits: number,
  N: number,
  K: number,
  blockSize: number,
): NBitsWeight {
  return {
    kind: 'nbits',
    bits,
    blockSize,
    outFeatures: N,
    inFeatures: K,
    packed: r.packed,
    scales: r.scales as Float32Array,
    ...(r.zeroPoints ? { zeroPoints: r.zeroPoints } : {}),
  };
}

function nbitsBytes(w: NBitsWeight): number {
  return w.packed.byteLength + w.scales.byteLength + (w.zeroPoints?.byteLength ?? 0);
}

/** The values an fp16-stored weight holds once widened back. */
export function roundTripHalf(w: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = halfToFloat(floatToHalf(w[i]!));
  return out;
}

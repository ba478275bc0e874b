import { ShrinkrayError } from '../errors.ts';
import type { EngineHeap } from './heap.ts';
import { WEIGHT, WEIGHT_KIND } from './task-layout.ts';

/**
 * A weight as the engine multiplies it: where its stored bytes lie in the heap and how they
 * are laid out. Nothing is converted: an NBits weight stays packed codes plus scales, an f16
 * weight stays f16.
 */
export type EngineWeight = NBitsWeightRef | DenseWeightRef;

export interface NBitsWeightRef {
  kind: 'nbits';
  name: string;
  N: number;
  K: number;
  bits: 2 | 4 | 8;
  blockSize: number;
  codes: number; // uint8 [N, blocks, blockSize*bits/8]
  scales: number; // f32 [N, blocks]
  zeroPoints: number; // uint8 [N, zpRow], or 0: symmetric (2^(bits-1))
  bias: number; // f32 [N] or 0
}

export interface DenseWeightRef {
  kind: 'dense';
  name: string;
  N: number;
  K: number;
  dtype: 'f32' | 'f16';
  layout: 'nk' | 'kn'; // [N, K] rows per output, or [K, N] (W^T) rows per input
  data: number;
  bias: number;
}

export const blockCount = (w: NBitsWeightRef) => Math.ceil(w.K / w.blockSize);
export const zeroPointRowBytes = (w: NBitsWeightRef) => Math.ceil((blockCount(w) * w.bits) / 8);

/** Writes the kernels' descriptor of `w` into the heap; its address. */
export function writeDescriptor(heap: EngineHeap, w: EngineWeight): number {
  const at = heap.alloc(WEIGHT.bytes, `the descriptor of ${w.name}`);
  const i = heap.i32;
  const s = at >>> 2;
  i[s + WEIGHT.N] = w.N;
  i[s + WEIGHT.K] = w.K;
  i[s + WEIGHT.bias] = w.bias;
  if (w.kind === 'nbits') {
    if (![2, 4, 8].includes(w.bits))
      throw new ShrinkrayError('bad_file', `${w.name}: the CPU engine runs 2, 4 and 8-bit weights, not ${w.bits}-bit`);
    i[s + WEIGHT.kind] = WEIGHT_KIND.nbits;
    i[s + WEIGHT.bits] = w.bits;
    i[s + WEIGHT.bs] = w.blockSize;
    i[s + WEIGHT.blocks] = blockCount(w);
    i[s + WEIGHT.data] = w.codes;
    i[s + WEIGHT.scales] = w.scales;
    i[s + WEIGHT.zp] = w.zeroPoints;
    i[s + WEIGHT.zpRow] = zeroPointRowBytes(w);
  } else {
    const f16 = w.dtype === 'f16';
    i[s + WEIGHT.kind] = w.layout === 'nk' ? (f16 ? WEIGHT_KIND.f16NK : WEIGHT_KIND.f32NK) : f16 ? WEIGHT_KIND.f16KN : WEIGHT_KIND.f32KN;
    i[s + WEIGHT.data] = w.data;
  }
  return at;
}

/** Stored bytes a weight occupies (what a decode step reads of it). */
export function weightBytes(w: EngineWeight): number {
  if (w.kind === 'dense') return w.N * w.K * (w.dtype === 'f16' ? 2 : 4);
  const blocks = blockCount(w);
  return w.N * blocks * ((w.blockSize * w.bits) / 8) + w.N * blocks * 4 + (w.zeroPoints ? w.N * zeroPointRowBytes(w) : 0);
}

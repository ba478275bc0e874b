import { ShrinkrayError } from '../../errors.ts';
import { blobBytes, readBits, zeroPointRowBytes } from './matmul-nbits-layout.ts';
import { blockCount, type RtnResult } from './rtn-options.ts';
import { halfToFloat } from '../half.ts';

export interface DequantizeOptions {
  bits: number;
  blockSize: number;
}

/**
 * Rebuilds fp32 weights [N, K] from MatMulNBits data, as the runtime does:
 * w = (code - zero) * scale in f32, zero = the stored zero point or 2^(bits-1).
 */
export function dequantizeNBits(q: RtnResult, N: number, K: number, opts: DequantizeOptions): Float32Array {
  const { bits, blockSize } = opts;
  const kBlocks = blockCount(K, blockSize);
  const blob = blobBytes(blockSize, bits);
  const zpRow = zeroPointRowBytes(kBlocks, bits);
  if (q.packed.length !== N * kBlocks * blob) {
    throw new ShrinkrayError(
      'bad_argument',
      `dequantize: B must hold N*kBlocks*blob = ${N}*${kBlocks}*${blob} bytes, got ${q.packed.length}`,
    );
  }
  if (q.scales.length !== N * kBlocks) {
    throw new ShrinkrayError('bad_argument', `dequantize: scales must hold N*kBlocks = ${N * kBlocks} values, got ${q.scales.length}`);
  }
  if (q.zeroPoints && q.zeroPoints.length !== N * zpRow) {
    throw new ShrinkrayError('bad_argument', `dequantize: zero_points must hold N*${zpRow} bytes, got ${q.zeroPoints.length}`);
  }
  const out = new Float32Array(N * K); // [N, K]
  const mid = 1 << (bits - 1);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const idx = n * kBlocks + b;
      const scale = q.scales instanceof Uint16Array ? halfToFloat(q.scales[idx]) : q.scales[idx];
      const zero = q.zeroPoints ? readBits(q.zeroPoints, n * zpRow * 8 + b * bits, bits) : mid;
      const len = Math.min(blockSize, K - b * blockSize);
      for (let i = 0; i < len; i++) {
        const code = readBits(q.packed, idx * blob * 8 + i * bits, bits);
        out[n * K + b * blockSize + i] = Math.fround((code - zero) * scale);
      }
    }
  }
  return out;
}

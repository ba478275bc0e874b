import { blobBytes, writeBits, zeroPointRowBytes } from './matmul-nbits-layout.ts';
import { badBlockError, blockCount, validateRtn, type RtnOptions, type RtnResult } from './rtn-options.ts';
import { floatToHalf, halfToFloat } from '../half.ts';

/**
 * Scalar reference of round-to-nearest block quantization. Every step is f32 arithmetic
 * (Math.fround after each operation), so the WASM (f32.div, f32.nearest) and WebGPU kernels
 * can reproduce it bit for bit. Per block of `blockSize` weights along K:
 *
 *   lo = min(0, min w), hi = max(0, max w)     (the range always holds 0, so 0 is exact)
 *   symmetric:  scale = max(hi, -lo) / (2^(bits-1) - 1),  zero = 2^(bits-1)
 *   asymmetric: scale = (hi - lo) / (2^bits - 1),        zero = clamp(rne(-lo / scale), 0, 2^bits - 1)
 *   scale is then rounded to f16 when scaleDtype is 'f16', and the codes use that rounded scale
 *   code = clamp(rne(w / scale) + zero, 0, 2^bits - 1)    (symmetric: q in [-2^(bits-1), 2^(bits-1)-1])
 *
 * rne = round half to even, as WASM's f32.nearest, WGSL's round() and numpy's round do.
 * A block whose scale is 0 (all zeros, or too small for f16) stores scale 0 and code = zero
 * everywhere, which dequantizes to exactly 0. Widening the range to hold 0 is what the
 * fixture README's formulas do for any block holding both signs (every block of a trained
 * layer in practice); for one-signed blocks it keeps the codes in range instead of clamping.
 */
export function quantizeRtnReference(weight: Float32Array, N: number, K: number, opts: RtnOptions): RtnResult {
  validateRtn(weight, N, K, opts);
  const { bits, blockSize, symmetric } = opts;
  const kBlocks = blockCount(K, blockSize);
  const blob = blobBytes(blockSize, bits);
  const zpRow = zeroPointRowBytes(kBlocks, bits);
  const packed = new Uint8Array(N * kBlocks * blob); // [N, kBlocks, blob]
  const scales = opts.scaleDtype === 'f16' ? new Uint16Array(N * kBlocks) : new Float32Array(N * kBlocks); // [N, kBlocks]
  const zeroPoints = symmetric ? null : new Uint8Array(N * zpRow); // [N, zpRow]
  const codeMax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const divisor = symmetric ? mid - 1 : codeMax;

  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = n * K + b * blockSize;
      const len = Math.min(blockSize, K - b * blockSize);
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < len; i++) {
        const w = weight[start + i];
        if (!Number.isFinite(w)) throw badBlockError(weight, K, opts, n, b);
        if (w < lo) lo = w;
        if (w > hi) hi = w;
      }
      const range = symmetric ? Math.max(hi, -lo) : Math.fround(hi - lo);
      if (range === Infinity) throw badBlockError(weight, K, opts, n, b);
      let scale = Math.fround(range / divisor);
      const idx = n * kBlocks + b;
      if (scales instanceof Uint16Array) {
        const h = floatToHalf(scale);
        if ((h & 0x7fff) === 0x7c00) throw badBlockError(weight, K, opts, n, b);
        scales[idx] = h;
        scale = halfToFloat(h);
      } else {
        scales[idx] = scale;
      }
      let zero = mid;
      if (!symmetric) {
        zero = scale === 0 ? 0 : clamp(roundHalfEven(Math.fround(-lo / scale)), 0, codeMax);
        writeBits(zeroPoints!, n * zpRow * 8 + b * bits, bits, zero);
      }
      const bitBase = idx * blob * 8;
      for (let i = 0; i < blockSize; i++) {
        const code = i >= len || scale === 0 ? zero : clamp(roundHalfEven(Math.fround(weight[start + i] / scale)) + zero, 0, codeMax);
        writeBits(packed, bitBase + i * bits, bits, code);
      }
    }
  }
  return { packed, scales, zeroPoints };
}

/** Round half to even; x is an f32 value well inside the int32 range here. */
export function roundHalfEven(x: number): number {
  let r = Math.round(x); // halves go up
  if (r - x === 0.5 && (r & 1) !== 0) r -= 1;
  return r;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

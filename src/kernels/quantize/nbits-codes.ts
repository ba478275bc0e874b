import { ShrinkrayError } from '../../errors.ts';
import { blobBytes, packCodes, packZeroPoints, zeroPointRowBytes } from './matmul-nbits-layout.ts';
import { blockCount, type RtnResult } from './rtn-options.ts';
import { roundHalfEven } from './rtn-reference.ts';

/**
 * Codes computed one weight at a time (GPTQ, AWQ's search, 3-bit RTN) and their packing
 * into the MatMulNBits layout (matmul-nbits-layout.ts).
 *
 * The block rule is round-to-nearest's (rtn-reference.ts): the range always holds 0,
 *   symmetric:  scale = max(hi, -lo) / (2^(b-1) - 1), zero = 2^(b-1)
 *   asymmetric: scale = (hi - lo) / (2^b - 1),       zero = clamp(rne(-lo / scale), 0, 2^b - 1)
 * with every step in f32, so a block quantized here from the same values gives RTN's codes.
 *
 * 3-bit codes live in the 4-bit container: onnxruntime-web refuses MatMulNBits with bits=3,
 * so codes 0..7 are stored as 4-bit codes with an explicit zero point (symmetric: 4). They
 * run on the same runtime and show 3-bit quality, at int4-asym's size.
 */

/** The MatMulNBits width that stores `bits`-wide codes. */
export function containerBits(bits: number): number {
  return bits === 3 ? 4 : bits;
}

/** Whether the stored layout carries zero points: asymmetric, or codes narrower than their container. */
export function storesZeroPoints(bits: number, symmetric: boolean): boolean {
  return !symmetric || containerBits(bits) !== bits;
}

/** The scale and zero point of one block with range [lo, hi] (lo <= 0 <= hi), all in f32. */
export function blockScaleZero(lo: number, hi: number, bits: number, symmetric: boolean): { scale: number; zero: number } {
  const codeMax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  if (symmetric) return { scale: Math.fround(Math.max(hi, -lo) / (mid - 1)), zero: mid };
  const scale = Math.fround(Math.fround(hi - lo) / codeMax);
  const zero = scale === 0 ? 0 : Math.min(Math.max(roundHalfEven(Math.fround(-lo / scale)), 0), codeMax);
  return { scale, zero };
}

/** code = clamp(rne(w / scale) + zero, 0, 2^bits - 1); a zero scale gives the zero point. */
export function quantizeCode(w: number, scale: number, zero: number, bits: number): number {
  if (scale === 0) return zero;
  const code = roundHalfEven(Math.fround(w / scale)) + zero;
  const codeMax = (1 << bits) - 1;
  return code < 0 ? 0 : code > codeMax ? codeMax : code;
}

/** Codes of a weight with their block parameters, before packing. */
export interface NBitsCodes {
  codes: Uint8Array; // [N, K], each < 2^bits
  scales: Float32Array; // [N, kBlocks]
  zeros: Uint8Array; // [N, kBlocks], the zero point of each block
}

export interface PackOptions {
  bits: number; // code width, 2..8
  blockSize: number;
  symmetric: boolean;
}

/** Codes -> MatMulNBits initializers in the container width; the padded tail of a row holds its block's zero point. */
export function packNBits(c: NBitsCodes, N: number, K: number, o: PackOptions): RtnResult {
  const kBlocks = blockCount(K, o.blockSize);
  if (c.codes.length !== N * K || c.scales.length !== N * kBlocks || c.zeros.length !== N * kBlocks) {
    throw new ShrinkrayError('bad_argument', `packNBits: expected codes [${N}, ${K}] and ${N}*${kBlocks} scales and zero points`);
  }
  const store = containerBits(o.bits);
  const Kp = kBlocks * o.blockSize;
  const padded = new Uint8Array(N * Kp); // [N, kBlocks * blockSize]
  for (let n = 0; n < N; n++) {
    padded.set(c.codes.subarray(n * K, (n + 1) * K), n * Kp);
    const z = c.zeros[n * kBlocks + kBlocks - 1]!;
    padded.fill(z, n * Kp + K, (n + 1) * Kp);
  }
  const packed = packCodes(padded, N, kBlocks, o.blockSize, store);
  if (packed.length !== N * kBlocks * blobBytes(o.blockSize, store))
    throw new ShrinkrayError('runtime_error', 'packNBits: packed size mismatch');
  const zeroPoints = storesZeroPoints(o.bits, o.symmetric) ? packZeroPoints(c.zeros, N, kBlocks, store) : null;
  if (zeroPoints && zeroPoints.length !== N * zeroPointRowBytes(kBlocks, store))
    throw new ShrinkrayError('runtime_error', 'packNBits: zero point size mismatch');
  return { packed, scales: Float32Array.from(c.scales), zeroPoints };
}

/**
 * Round-to-nearest codes of W [N, K] in blocks along K: the scalar rule above, for widths the
 * RTN kernels do not take (3 bits) and as the starting point of AWQ's search.
 */
export function rtnCodes(w: Float32Array, N: number, K: number, o: PackOptions): NBitsCodes {
  const kBlocks = blockCount(K, o.blockSize);
  const codes = new Uint8Array(N * K);
  const scales = new Float32Array(N * kBlocks);
  const zeros = new Uint8Array(N * kBlocks);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = n * K + b * o.blockSize;
      const end = n * K + Math.min(K, (b + 1) * o.blockSize);
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const v = w[i]!;
        if (!Number.isFinite(v))
          throw new ShrinkrayError(
            'bad_argument',
            `quantization: row ${n}, block ${b}: weight ${i - start} is ${v}; expected a finite number`,
          );
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const { scale, zero } = blockScaleZero(lo, hi, o.bits, o.symmetric);
      scales[n * kBlocks + b] = scale;
      zeros[n * kBlocks + b] = zero;
      for (let i = start; i < end; i++) codes[i] = quantizeCode(w[i]!, scale, zero, o.bits);
    }
  }
  return { codes, scales, zeros };
}

/** The weights the codes stand for: (code - zero) * scale in f32, [N, K]. */
export function dequantizeCodes(c: NBitsCodes, N: number, K: number, blockSize: number): Float32Array {
  const kBlocks = blockCount(K, blockSize);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = n * kBlocks + Math.floor(k / blockSize);
      out[n * K + k] = Math.fround((c.codes[n * K + k]! - c.zeros[b]!) * c.scales[b]!);
    }
  }
  return out;
}

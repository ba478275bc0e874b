import { ShrinkrayError } from '../../errors.ts';
import { ORT_WEB_MATMUL_NBITS_BITS } from './runtime-support.ts';

/**
 * Options and result of round-to-nearest (RTN) block quantization, shared by every
 * implementation (scalar reference, WASM SIMD, WASM worker pool, WebGPU) so that they
 * are interchangeable and comparable bit for bit.
 */
export interface RtnOptions {
  bits: number; // 2 | 4 | 8: width of one code (what onnxruntime-web runs)
  blockSize: number; // 16 | 32 | 64 | 128 | 256: weights along K sharing one scale
  symmetric: boolean; // true: zero point fixed at 2^(bits-1) and not stored
  scaleDtype: 'f32' | 'f16'; // element type of `scales`, the MatMulNBits T
  name?: string; // tensor name, only used in error messages
}

/** Packed output, laid out exactly as `com.microsoft.MatMulNBits` initializers. */
export interface RtnResult {
  packed: Uint8Array; // [N, kBlocks, blockSize*bits/8]: codes, bit-packed low bits first along K
  scales: Float32Array | Uint16Array; // [N, kBlocks]: f32, or f16 bit patterns when scaleDtype is 'f16'
  zeroPoints: Uint8Array | null; // [N, ceil(kBlocks*bits/8)]: packed like B; null when symmetric
}

/** The one signature all synchronous implementations share. */
export type RtnQuantize = (weight: Float32Array, N: number, K: number, opts: RtnOptions) => RtnResult;

export const MIN_BITS = 2;
export const MAX_BITS = 8;
export const BLOCK_SIZES: readonly number[] = Object.freeze([16, 32, 64, 128, 256]);

/** Largest weight count one call accepts: 2^31 keeps every byte offset a safe int32 for WASM and WGSL. */
export const MAX_WEIGHTS = 2 ** 31 - 1;

/** Number of blocks along K; the last one is padded when K is not a multiple of blockSize. */
export function blockCount(K: number, blockSize: number): number {
  return Math.ceil(K / blockSize);
}

/** Throws a ShrinkrayError naming the tensor and the expected value for every bad input. */
export function validateRtn(weight: Float32Array, N: number, K: number, opts: RtnOptions): void {
  const what = opts.name ? `tensor '${opts.name}'` : 'weight';
  const { bits, blockSize } = opts;
  if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
    throw new ShrinkrayError('bad_recipe', `RTN quantization of ${what}: bits must be an integer in ${MIN_BITS}..${MAX_BITS}, got ${bits}`);
  }
  if (!ORT_WEB_MATMUL_NBITS_BITS.includes(bits)) {
    throw new ShrinkrayError(
      'bad_recipe',
      `RTN quantization of ${what}: ${bits}-bit codes are valid MatMulNBits but onnxruntime-web runs only ${ORT_WEB_MATMUL_NBITS_BITS.join(', ')} bits`,
    );
  }
  if (!BLOCK_SIZES.includes(blockSize)) {
    throw new ShrinkrayError('bad_recipe', `RTN quantization of ${what}: block size must be a power of two in 16..256, got ${blockSize}`);
  }
  if (opts.scaleDtype !== 'f32' && opts.scaleDtype !== 'f16') {
    throw new ShrinkrayError(
      'bad_argument',
      `RTN quantization of ${what}: scaleDtype must be 'f32' or 'f16', got '${String(opts.scaleDtype)}'`,
    );
  }
  if (!Number.isSafeInteger(N) || !Number.isSafeInteger(K) || N < 1 || K < 1) {
    throw new ShrinkrayError('bad_argument', `RTN quantization of ${what}: N and K must be positive integers, got N=${N}, K=${K}`);
  }
  if (blockSize > K) {
    throw new ShrinkrayError(
      'bad_recipe',
      `RTN quantization of ${what}: block size ${blockSize} is larger than the layer's input dimension K=${K}`,
    );
  }
  if (N * K > MAX_WEIGHTS) {
    throw new ShrinkrayError('bad_argument', `RTN quantization of ${what}: [${N}, ${K}] has more than ${MAX_WEIGHTS} weights`);
  }
  if (!(weight instanceof Float32Array) || weight.length !== N * K) {
    const got = weight instanceof Float32Array ? `${weight.length} floats` : 'not a Float32Array';
    throw new ShrinkrayError(
      'bad_argument',
      `RTN quantization of ${what}: expected a Float32Array of N*K = ${N}*${K} = ${N * K} floats, got ${got}`,
    );
  }
}

/**
 * The error for a block that cannot be quantized, found by replaying the reference's checks
 * on it, so every implementation names the same row, block and cause: a non-finite weight,
 * a range beyond f32, or (f16 scales) a scale beyond f16.
 */
export function badBlockError(weight: Float32Array, K: number, opts: RtnOptions, row: number, block: number): ShrinkrayError {
  const what = opts.name ? `tensor '${opts.name}'` : 'weight';
  const start = row * K + block * opts.blockSize;
  const len = Math.min(opts.blockSize, K - block * opts.blockSize);
  let lo = 0;
  let hi = 0;
  let why = `scale exceeds the f16 range; use f32 scales`;
  for (let i = 0; i < len; i++) {
    const w = weight[start + i];
    if (!Number.isFinite(w)) {
      why = `weight ${i} is ${w}; expected a finite number`;
      break;
    }
    lo = Math.min(lo, w);
    hi = Math.max(hi, w);
  }
  if (Number.isFinite(lo) && Number.isFinite(hi) && !opts.symmetric && Math.fround(hi - lo) === Infinity) {
    why = `range ${lo}..${hi} overflows f32`;
  }
  return new ShrinkrayError('bad_argument', `RTN quantization of ${what}: row ${row}, block ${block}: ${why}`);
}

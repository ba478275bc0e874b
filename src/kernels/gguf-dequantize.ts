import { ShrinkrayError } from '../errors.ts';
import { bf16ToFloat, halfToFloat } from './half.ts';

/**
 * ggml's tensor encodings as GGUF stores them, decoded to fp32 exactly as llama.cpp's
 * dequantize_row_* do (every product below is exact in f32, or rounded once, as in C).
 * Data is a whole number of blocks along the rows (ggml's ne[0]); blocks follow one another.
 *
 * Block layouts (little-endian; "f16" is an IEEE half):
 *   Q8_0  34 B / 32 values : f16 d | i8 q[32]                       w = d*q
 *   Q4_0  18 B / 32 values : f16 d | u8 qs[16]                      w[j] = d*((qs[j]&15)-8), w[j+16] = d*((qs[j]>>4)-8)
 *   Q4_1  20 B / 32 values : f16 d | f16 m | u8 qs[16]              w[j] = d*(qs[j]&15) + m, w[j+16] = d*(qs[j]>>4) + m
 *   Q5_0  22 B / 32 values : f16 d | u32 qh | u8 qs[16]             as Q4_0 with bit k of qh the fifth bit of value k, minus 16
 *   Q5_1  24 B / 32 values : f16 d | f16 m | u32 qh | u8 qs[16]     as Q4_1 with the fifth bits of qh
 *   Q4_K 144 B / 256 values: f16 d | f16 dmin | u8 scales[12] | u8 qs[128]
 *   Q5_K 176 B / 256 values: f16 d | f16 dmin | u8 scales[12] | u8 qh[32] | u8 qs[128]
 *   Q6_K 210 B / 256 values: u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d
 * Q4_K/Q5_K: 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min packed in scales[12];
 * w = d*sc*q - dmin*m. Q6_K: 16 sub-blocks of 16 with int8 scales; w = d*sc*(q - 32).
 * Q4_1/Q5_0/Q5_1 are what llama.cpp's quantizer writes instead of Q4_K/Q5_K for rows that are
 * not whole 256-value blocks (Qwen2.5-0.5B's 896, SmolLM2-135M's 576).
 */
export type GgmlTypeName = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q4_K' | 'Q5_K' | 'Q6_K';

/** ggml_type ids (ggml.h) of the encodings above. */
export const GGML_TYPE_IDS: Readonly<Record<GgmlTypeName, number>> = Object.freeze({
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  BF16: 30,
});

/** Values per block and bytes per block of each encoding. */
export const GGML_BLOCKS: Readonly<Record<GgmlTypeName, { values: number; bytes: number }>> = Object.freeze({
  F32: { values: 1, bytes: 4 },
  F16: { values: 1, bytes: 2 },
  BF16: { values: 1, bytes: 2 },
  Q8_0: { values: 32, bytes: 34 },
  Q4_0: { values: 32, bytes: 18 },
  Q4_1: { values: 32, bytes: 20 },
  Q5_0: { values: 32, bytes: 22 },
  Q5_1: { values: 32, bytes: 24 },
  Q4_K: { values: 256, bytes: 144 },
  Q5_K: { values: 256, bytes: 176 },
  Q6_K: { values: 256, bytes: 210 },
});

export function ggmlTypeName(id: number): GgmlTypeName | undefined {
  return (Object.keys(GGML_TYPE_IDS) as GgmlTypeName[]).find((k) => GGML_TYPE_IDS[k] === id);
}

/** Bytes that `count` values of `type` occupy; count must be a whole number of blocks. */
export function ggmlByteLength(type: GgmlTypeName, count: number): number {
  const b = GGML_BLOCKS[type];
  return (count / b.values) * b.bytes;
}

/** Q4_K/Q5_K's 6-bit (scale, min) of sub-block j (0..7) from the 12 packed bytes at `at`. */
function scaleMin(bytes: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [bytes[at + j]! & 63, bytes[at + j + 4]! & 63];
  const sc = (bytes[at + j + 4]! & 0x0f) | ((bytes[at + j - 4]! >> 6) << 4);
  const m = (bytes[at + j + 4]! >> 4) | ((bytes[at + j]! >> 6) << 4);
  return [sc, m];
}

const f32 = Math.fround;

function decodeQ8_0(src: Uint8Array, view: DataView, out: Float32Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const at = 34 * b;
    const d = halfToFloat(view.getUint16(at, true));
    for (let i = 0; i < 32; i++) out[32 * b + i] = d * ((src[at + 2 + i]! << 24) >> 24);
  }
}

function decodeQ4_0(src: Uint8Array, view: DataView, out: Float32Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const at = 18 * b;
    const d = halfToFloat(view.getUint16(at, true));
    for (let j = 0; j < 16; j++) {
      const q = src[at + 2 + j]!;
      out[32 * b + j] = d * ((q & 15) - 8);
      out[32 * b + j + 16] = d * ((q >> 4) - 8);
    }
  }
}

/**
 * Q4_1, Q5_0 and Q5_1: 32 values, value j in the low nibble of qs[j] and value j + 16 in its high
 * nibble; Q5's fifth bit of value k is bit k of the little-endian u32 qh. With a min m (Q4_1, Q5_1)
 * w = d*q + m, rounded after the product as ggml's x0*d + m; without (Q5_0) w = d*(q - 16).
 */
function decodeSmall(src: Uint8Array, view: DataView, out: Float32Array, blocks: number, type: 'Q4_1' | 'Q5_0' | 'Q5_1'): void {
  const size = GGML_BLOCKS[type].bytes;
  const hasMin = type !== 'Q5_0';
  const hasHigh = type !== 'Q4_1';
  const qs = (hasMin ? 4 : 2) + (hasHigh ? 4 : 0); // where the nibbles start in the block
  for (let b = 0; b < blocks; b++) {
    const at = size * b;
    const d = halfToFloat(view.getUint16(at, true));
    const m = hasMin ? halfToFloat(view.getUint16(at + 2, true)) : 0;
    const qh = hasHigh ? view.getUint32(at + (hasMin ? 4 : 2), true) : 0;
    for (let j = 0; j < 16; j++) {
      const q = src[at + qs + j]!;
      const lo = (q & 15) | (((qh >>> j) & 1) << 4);
      const hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      if (hasMin) {
        out[32 * b + j] = f32(d * lo) + m;
        out[32 * b + j + 16] = f32(d * hi) + m;
      } else {
        out[32 * b + j] = d * (lo - 16);
        out[32 * b + j + 16] = d * (hi - 16);
      }
    }
  }
}

/** Q4_K (highBits false) and Q5_K (highBits true): 4 chunks of 64 values, low nibbles then high nibbles of 32 bytes. */
function decodeK45(src: Uint8Array, view: DataView, out: Float32Array, blocks: number, highBits: boolean): void {
  const size = highBits ? 176 : 144;
  for (let b = 0; b < blocks; b++) {
    const at = size * b;
    const d = halfToFloat(view.getUint16(at, true));
    const dmin = halfToFloat(view.getUint16(at + 2, true));
    const qh = at + 16; // Q5_K only: bit 2c of qh[l] is the fifth bit of value l of chunk c's first half, bit 2c+1 of its second
    const qs = at + (highBits ? 48 : 16);
    for (let c = 0; c < 4; c++) {
      const [sc1, m1] = scaleMin(src, at + 4, 2 * c);
      const [sc2, m2] = scaleMin(src, at + 4, 2 * c + 1);
      const d1 = f32(d * sc1);
      const min1 = f32(dmin * m1);
      const d2 = f32(d * sc2);
      const min2 = f32(dmin * m2);
      const y = 256 * b + 64 * c;
      for (let l = 0; l < 32; l++) {
        const q = src[qs + 32 * c + l]!;
        const h = highBits ? src[qh + l]! : 0;
        const lo = (q & 15) + ((h >> (2 * c)) & 1 ? 16 : 0);
        const hi = (q >> 4) + ((h >> (2 * c + 1)) & 1 ? 16 : 0);
        out[y + l] = f32(d1 * lo) - min1;
        out[y + 32 + l] = f32(d2 * hi) - min2;
      }
    }
  }
}

/** Q6_K: 2 halves of 128 values; in each, 64 ql bytes (low 4 bits) and 32 qh bytes (2 high bits each for 4 values). */
function decodeQ6K(src: Uint8Array, view: DataView, out: Float32Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const at = 210 * b;
    const d = halfToFloat(view.getUint16(at + 208, true));
    for (let n = 0; n < 2; n++) {
      const ql = at + 64 * n;
      const qh = at + 128 + 32 * n;
      const sc = at + 192 + 8 * n;
      const y = 256 * b + 128 * n;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = src[qh + l]!;
        const q1 = ((src[ql + l]! & 15) | ((h & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32]! & 15) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
        const s = (k: number) => (src[sc + is + k]! << 24) >> 24;
        out[y + l] = d * s(0) * q1;
        out[y + l + 32] = d * s(2) * q2;
        out[y + l + 64] = d * s(4) * q3;
        out[y + l + 96] = d * s(6) * q4;
      }
    }
  }
}

/**
 * Decodes `count` values of `type` from `src` (exactly ggmlByteLength(type, count) bytes) to fp32.
 * `what` names the tensor in errors.
 */
export function dequantizeGgml(type: GgmlTypeName, src: Uint8Array, count: number, what: string): Float32Array {
  const block = GGML_BLOCKS[type];
  if (!Number.isSafeInteger(count) || count < 0 || count % block.values !== 0) {
    throw new ShrinkrayError('bad_argument', `${what}: ${count} values are not a whole number of ${type} blocks of ${block.values}`);
  }
  const blocks = count / block.values;
  if (src.byteLength !== blocks * block.bytes) {
    throw new ShrinkrayError('bad_argument', `${what}: ${count} ${type} values need ${blocks * block.bytes} bytes, got ${src.byteLength}`);
  }
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const out = new Float32Array(count);
  switch (type) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bf16ToFloat(view.getUint16(2 * i, true));
      break;
    case 'Q8_0':
      decodeQ8_0(src, view, out, blocks);
      break;
    case 'Q4_0':
      decodeQ4_0(src, view, out, blocks);
      break;
    case 'Q4_1':
    case 'Q5_0':
    case 'Q5_1':
      decodeSmall(src, view, out, blocks, type);
      break;
    case 'Q4_K':
      decodeK45(src, view, out, blocks, false);
      break;
    case 'Q5_K':
      decodeK45(src, view, out, blocks, true);
      break;
    case 'Q6_K':
      decodeQ6K(src, view, out, blocks);
      break;
  }
  return out;
}

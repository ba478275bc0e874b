// @ts-nocheck -- AssemblyScript (compiled to WASM SIMD by scripts/build-wasm.ts), not TypeScript.
//
// Round-to-nearest block quantization into the MatMulNBits layout; the same arithmetic as
// src/kernels/quantize/rtn-reference.ts, one f32 operation at a time (f32.div, f32.nearest),
// so the codes and scales match it bit for bit. Widths 2, 4 and 8 only: those never straddle
// a byte, so a code is an OR into one byte. Memory is managed by the JS loader, which places
// the buffers above heapBase() and grows memory as needed.

let errorKind: i32 = 0; // 1: non-finite weight, 2: range overflows f32, 3: scale overflows f16
const padded = memory.data(256 * 4, 16); // one zero-padded last block: [blockSize] f32

export function heapBase(): usize {
  return __heap_base;
}

export function lastErrorKind(): i32 {
  return errorKind;
}

// f32 -> f16 bits, round to nearest even (port of src/kernels/quantize/scale-f16.ts).
function f32ToF16Bits(value: f32): u32 {
  const x = reinterpret<u32>(value);
  const sign = (x >>> 16) & 0x8000;
  const e = <i32>((x >>> 23) & 0xff);
  const m = x & 0x7fffff;
  if (e == 0xff) return sign | 0x7c00 | (m != 0 ? 0x200 : 0);
  const exp = e - 127 + 15;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const mm = m | 0x800000;
    const shift = <u32>(14 - exp);
    const half = (<u32>1) << (shift - 1);
    const rem = mm & (((<u32>1) << shift) - 1);
    let q = mm >>> shift;
    if (rem > half || (rem == half && (q & 1) == 1)) q++;
    return sign | q;
  }
  const q = ((<u32>exp) << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  // Branchless round half to even: the comparison is a coin flip on real scales.
  return sign | (q + ((<u32>(rem > 0x1000)) | ((<u32>(rem == 0x1000)) & q & 1)));
}

function f16BitsToF32(h: u32): f32 {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const neg = (h & 0x8000) != 0;
  let v: f32;
  if (e == 0)
    v = <f32>m * 5.9604644775390625e-8; // m * 2^-24, exact
  else v = reinterpret<f32>(((e - 15 + 127) << 23) | (m << 13));
  return neg ? -v : v;
}

// OR a code into a zeroed byte stream; for 2, 4, 8 bits a code never crosses a byte.
function orBits(base: usize, bit: i32, code: i32): void {
  const p = base + <usize>(bit >>> 3);
  store<u8>(p, load<u8>(p) | (<u8>(code << (bit & 7))));
}

function clampI(v: i32, lo: i32, hi: i32): i32 {
  return v < lo ? lo : v > hi ? hi : v;
}

// Codes of 4 weights, before clamping: nearest(w / scale) + zero as i32x4. Adding
// 1.5 * 2^23 rounds w / scale to an integer, ties to even, exactly as f32.nearest does
// (|w / scale| < 2^22 here, so the sum's ulp is 1), and leaves it in the low mantissa bits:
// subtracting the sum's bits minus zero yields the code. (Folding zero into the float add
// would be wrong: an odd zero flips which neighbour of a tie is even.)
function codes4(ptr: usize, vs: v128, vbias: v128): v128 {
  const t = f32x4.add(f32x4.div(v128.load(ptr), vs), f32x4.splat(12582912));
  return i32x4.sub(t, vbias);
}

// 16 codes as u8x16, from 16 consecutive weights, clamped to [0, codeMax]: the unsigned
// narrowing saturates to [0, 255], so only the upper clamp is left for 2 and 4 bits.
function codes16(ptr: usize, vs: v128, vbias: v128, vmax: v128): v128 {
  const a = codes4(ptr, vs, vbias);
  const b = codes4(ptr + 16, vs, vbias);
  const c = codes4(ptr + 32, vs, vbias);
  const d = codes4(ptr + 48, vs, vbias);
  return i8x16.min_u(i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d)), vmax);
}

// Joins byte pairs (lo, hi), each < 16, into lo | hi << 4: 16 bytes -> 8 bytes in lanes 0..7.
function joinNibbles(v: v128): v128 {
  const p = v128.or(v128.and(v, i16x8.splat(0x000f)), v128.and(i16x8.shr_u(v, 4), i16x8.splat(0x00f0)));
  return i8x16.narrow_i16x8_u(p, p);
}

// Joins byte pairs (lo, hi), each < 4, into lo | hi << 2.
function joinCrumbs(v: v128): v128 {
  const p = v128.or(v128.and(v, i16x8.splat(0x0003)), v128.and(i16x8.shr_u(v, 6), i16x8.splat(0x000c)));
  return i8x16.narrow_i16x8_u(p, p);
}

/**
 * Quantizes weights [rows, K] (f32 at w) into packed [rows, kBlocks, blob] bytes, scales
 * [rows, kBlocks] (f32, or f16 bits when f16 != 0) and, when asymmetric, zero points
 * [rows, ceil(kBlocks*bits/8)]. Returns -1 on success, else the index row*kBlocks+block of
 * the first bad block (see lastErrorKind()).
 */
export function quantize(
  w: usize,
  rows: i32,
  K: i32,
  bits: i32,
  blockSize: i32,
  symmetric: i32,
  f16: i32,
  packed: usize,
  scales: usize,
  zps: usize,
): i32 {
  const kBlocks = (K + blockSize - 1) / blockSize;
  const blob = (blockSize * bits) >> 3;
  const zpRow = (kBlocks * bits + 7) >> 3;
  const codeMax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const divisor = <f32>(symmetric ? mid - 1 : codeMax);
  const vmax = i8x16.splat(<i8>codeMax);
  if (!symmetric) memory.fill(zps, 0, <usize>(rows * zpRow));
  errorKind = 0;

  for (let n = 0; n < rows; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const idx = n * kBlocks + b;
      let src = w + ((<usize>n * <usize>K + <usize>(b * blockSize)) << 2);
      let len = min(blockSize, K - b * blockSize);
      if (len < blockSize) {
        // The padded last block runs the SIMD path on a zero-padded copy: a zero weight
        // leaves the range (which always holds 0) alone and quantizes to the zero point,
        // exactly the padding code.
        memory.copy(padded, src, (<usize>len) << 2);
        memory.fill(padded + ((<usize>len) << 2), 0, (<usize>(blockSize - len)) << 2);
        src = padded;
        len = blockSize;
      }

      // Block range, always holding 0: `lo = w < lo ? w : lo` as the reference does. pmin/pmax
      // are single instructions (min/max carry NaN and -0 fix-ups); NaN is tracked apart.
      let vlo = f32x4.splat(0);
      let vhi = f32x4.splat(0);
      let vnan = i32x4.splat(0);
      let i = 0;
      // Two independent chains per bound: the block's critical path is this reduction.
      let vlo2 = vlo;
      let vhi2 = vhi;
      for (; i + 16 <= len; i += 16) {
        const p = src + ((<usize>i) << 2);
        const a = v128.load(p);
        const b = v128.load(p, 16);
        const c = v128.load(p, 32);
        const d = v128.load(p, 48);
        vlo = f32x4.pmin(f32x4.pmin(vlo, a), c);
        vlo2 = f32x4.pmin(f32x4.pmin(vlo2, b), d);
        vhi = f32x4.pmax(f32x4.pmax(vhi, a), c);
        vhi2 = f32x4.pmax(f32x4.pmax(vhi2, b), d);
        vnan = v128.or(vnan, v128.or(v128.or(f32x4.ne(a, a), f32x4.ne(b, b)), v128.or(f32x4.ne(c, c), f32x4.ne(d, d))));
      }
      vlo = f32x4.pmin(vlo, vlo2);
      vhi = f32x4.pmax(vhi, vhi2);
      for (; i + 4 <= len; i += 4) {
        const v = v128.load(src + ((<usize>i) << 2));
        vlo = f32x4.pmin(vlo, v);
        vhi = f32x4.pmax(vhi, v);
        vnan = v128.or(vnan, f32x4.ne(v, v));
      }
      vlo = f32x4.pmin(vlo, i32x4.shuffle(vlo, vlo, 2, 3, 0, 1));
      vlo = f32x4.pmin(vlo, i32x4.shuffle(vlo, vlo, 1, 0, 3, 2));
      vhi = f32x4.pmax(vhi, i32x4.shuffle(vhi, vhi, 2, 3, 0, 1));
      vhi = f32x4.pmax(vhi, i32x4.shuffle(vhi, vhi, 1, 0, 3, 2));
      let lo = f32x4.extract_lane(vlo, 0);
      let hi = f32x4.extract_lane(vhi, 0);
      let finite = !v128.any_true(vnan);
      for (; i < len; i++) {
        const x = load<f32>(src + ((<usize>i) << 2));
        if (x != x) finite = false;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
      }
      if (!finite || !isFinite<f32>(lo) || !isFinite<f32>(hi)) {
        errorKind = 1;
        return idx;
      }
      // Symmetric range max(hi, -lo) via pmax: branchless (the sign of the larger bound is a
      // coin flip on real weights), and a tie keeps hi, so an all-zero block gives +0.
      const range: f32 = symmetric ? f32x4.extract_lane(f32x4.pmax(f32x4.splat(hi), f32x4.splat(-lo)), 0) : hi - lo;
      if (range == Infinity) {
        errorKind = 2;
        return idx;
      }
      let scale: f32 = range / divisor;
      if (f16) {
        const h = f32ToF16Bits(scale);
        if ((h & 0x7fff) == 0x7c00) {
          errorKind = 3;
          return idx;
        }
        store<u16>(scales + ((<usize>idx) << 1), <u16>h);
        scale = f16BitsToF32(h);
      } else {
        store<f32>(scales + ((<usize>idx) << 2), scale);
      }
      let zero = mid;
      if (!symmetric) {
        zero = scale == 0 ? 0 : clampI(<i32>nearest<f32>(-lo / scale), 0, codeMax);
        orBits(zps + <usize>(n * zpRow), b * bits, zero);
      }

      const dst = packed + <usize>idx * <usize>blob;
      if (scale == 0) {
        // All codes are the zero point: replicate it across each byte.
        memory.fill(dst, <u8>(bits == 8 ? zero : bits == 4 ? zero * 0x11 : zero * 0x55), blob);
        continue;
      }
      const vs = f32x4.splat(scale);
      const vz = i32x4.splat(0x4b400000 - zero); // bits of 1.5 * 2^23, less the zero point
      if (bits == 8) {
        for (let j = 0; j < blockSize; j += 16) v128.store(dst + j, codes16(src + ((<usize>j) << 2), vs, vz, vmax));
      } else if (bits == 4) {
        for (let j = 0; j < blockSize; j += 16) {
          store<i64>(dst + (j >> 1), i64x2.extract_lane(joinNibbles(codes16(src + ((<usize>j) << 2), vs, vz, vmax)), 0));
        }
      } else {
        for (let j = 0; j < blockSize; j += 16) {
          const crumbs = joinNibbles(joinCrumbs(codes16(src + ((<usize>j) << 2), vs, vz, vmax)));
          store<i32>(dst + (j >> 2), i32x4.extract_lane(crumbs, 0));
        }
      }
    }
  }
  return -1;
}

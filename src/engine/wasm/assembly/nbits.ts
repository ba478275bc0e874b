// @ts-nocheck -- AssemblyScript (compiled by scripts/build-wasm.ts), not TypeScript.
//
// y[t, n] = sum_b scale[n,b] * d[t,b] * sum_{k in b} (code[n,k] - zero[n,b]) * q[t,k]  (+ bias[n])
// for MatMulNBits weights as stored (codes uint8 [N, blocks, bs*bits/8], scales f32 [N, blocks],
// packed zero points or 2^(bits-1)) against int8 activations from acts.ts. The weight is never
// widened in memory: each 16-byte chunk of codes is split into its bit planes in registers. The
// relaxed-SIMD build multiplies them with i8 activations by i32x4.relaxed_dot_i8x16_i7x16 (codes
// < 128 are valid 7-bit operands); the plain build keeps activations as i16 (XB bytes each, see
// acts.ts) and uses i32x4.dot_i16x8_s. Integer sums are exact, so both give identical block sums
// and, with the same float order afterwards, identical results.
import {
  W_N, W_K, W_BITS, W_BS, W_BLOCKS, W_DATA, W_SCALES, W_ZP, W_ZPROW, W_BIAS, slot,
} from './layout';

/** Bytes per quantized activation: i8 for the relaxed dot, i16 for the plain i16 dot. */
export const XB: usize = ASC_FEATURE_RELAXED_SIMD ? 1 : 2;

// int8 codes are read as (code - 128) in i8 lanes; this offset is folded into the zero point.
@inline function zeroOffset(bits: i32): i32 {
  return bits == 8 ? 128 : 0;
}

/** i32 lane sums of u8 (signed: i8) lanes of `w` against 16 i16 activations at x (plain build). */
@inline function dot16(w: v128, x: usize, signed: bool): v128 {
  const lo = signed ? i16x8.extend_low_i8x16_s(w) : i16x8.extend_low_i8x16_u(w);
  const hi = signed ? i16x8.extend_high_i8x16_s(w) : i16x8.extend_high_i8x16_u(w);
  return i32x4.add(i32x4.dot_i16x8_s(lo, v128.load(x)), i32x4.dot_i16x8_s(hi, v128.load(x, 16)));
}

/** acc + the i32 lane sums of one 16-byte chunk of codes `v` against its plane-ordered activations at x. */
@inline function chunkDot(bits: i32, v: v128, x: usize, acc: v128): v128 {
  if (bits == 8) {
    const w = v128.xor(v, i8x16.splat(-128));
    if (ASC_FEATURE_RELAXED_SIMD) {
      const q = v128.load(x);
      const a = i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_low_i8x16_s(w, q));
      return i32x4.add(acc, i32x4.add(a, i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_high_i8x16_s(w, q))));
    }
    return i32x4.add(acc, dot16(w, x, true));
  }
  if (bits == 4) {
    const lo = v128.and(v, i8x16.splat(15));
    const hi = i8x16.shr_u(v, 4);
    if (ASC_FEATURE_RELAXED_SIMD) {
      return i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x, 16), hi, i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x), lo, acc));
    }
    return i32x4.add(acc, i32x4.add(dot16(lo, x, false), dot16(hi, x + 32, false)));
  }
  const m = i8x16.splat(3);
  const p0 = v128.and(v, m);
  const p1 = v128.and(i8x16.shr_u(v, 2), m);
  const p2 = v128.and(i8x16.shr_u(v, 4), m);
  const p3 = i8x16.shr_u(v, 6);
  if (ASC_FEATURE_RELAXED_SIMD) {
    let a = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x), p0, acc);
    a = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x, 16), p1, a);
    a = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x, 32), p2, a);
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x, 48), p3, a);
  }
  return i32x4.add(acc, i32x4.add(i32x4.add(dot16(p0, x, false), dot16(p1, x + 32, false)), i32x4.add(dot16(p2, x + 64, false), dot16(p3, x + 96, false))));
}

/**
 * Lane j = the products of bytes 4j..4j+3 of the chunk, in both builds (the relaxed dot's
 * own grouping): what blocks shorter than a chunk need, since each lane then lies in one block.
 */
@inline function chunkLanes(bits: i32, v: v128, x: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return chunkDot(bits, v, x, i32x4.splat(0));
  // dot_i16x8_s on the low 8 bytes gives pairs (0,1) (2,3) (4,5) (6,7); on the high 8, (8,9)...
  let e = i32x4.splat(0);
  let f = i32x4.splat(0);
  const planes = 8 / bits;
  for (let p = 0; p < planes; p++) {
    const w = bits == 4 ? (p == 0 ? v128.and(v, i8x16.splat(15)) : i8x16.shr_u(v, 4)) : v128.and(i8x16.shr_u(v, <i32>(p << 1)), i8x16.splat(3));
    const q = x + <usize>(p << 5);
    e = i32x4.add(e, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(w), v128.load(q)));
    f = i32x4.add(f, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(w), v128.load(q, 16)));
  }
  return i32x4.add(i32x4.shuffle(e, f, 0, 2, 4, 6), i32x4.shuffle(e, f, 1, 3, 5, 7));
}

/** [sum a, sum b, sum c, sum d]: four i32x4 reduced to one. */
@inline function reduce4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

@inline function hsumI(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

@inline function hsumF(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Zero point of block b (unsigned, before the offset); `zrow` = 0 means symmetric. */
@inline function zeroOf(bits: i32, zrow: usize, b: i32): i32 {
  if (zrow == 0) return 1 << (bits - 1);
  if (bits == 8) return <i32>load<u8>(zrow + <usize>b);
  if (bits == 4) return (<i32>load<u8>(zrow + <usize>(b >> 1)) >> ((b & 1) << 2)) & 15;
  return (<i32>load<u8>(zrow + <usize>(b >> 2)) >> ((b & 3) << 1)) & 3;
}

/** Zero points of blocks b..b+3 (b a multiple of 4), as i32x4. */
@inline function zeros4(bits: i32, zrow: usize, b: i32): v128 {
  if (zrow == 0) return i32x4.splat(1 << (bits - 1));
  if (bits == 8) return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(zrow + <usize>b)));
  if (bits == 4) {
    // Lane j needs bits 4j..4j+3 of a u16: shift each lane left by 12-4j (a multiply), then all right by 12.
    const z = i32x4.splat(<i32>load<u16>(zrow + <usize>(b >> 1)));
    return v128.and(i32x4.shr_u(i32x4.mul(z, i32x4(4096, 256, 16, 1)), 12), i32x4.splat(15));
  }
  const z = i32x4.splat(<i32>load<u8>(zrow + <usize>(b >> 2)));
  return v128.and(i32x4.shr_u(i32x4.mul(z, i32x4(64, 16, 4, 1)), 6), i32x4.splat(3));
}

/**
 * (zero - offset) * xsum for a symmetric weight: zero 2^(bits-1) less the offset is 8 (int4),
 * 2 (int2) or 0 (int8, whose offset is the zero): a shift, not a multiply.
 */
@inline function symmetricCorrection(bits: i32, xsum: v128): v128 {
  if (bits == 8) return i32x4.splat(0);
  return i32x4.shl(xsum, bits == 4 ? 3 : 1);
}

/** (zero - offset) * xsum for blocks b..b+3 (b a multiple of 4). */
@inline function zeroTimesSum4(bits: i32, zrow: usize, b: i32, xsum: v128): v128 {
  if (zrow == 0) return symmetricCorrection(bits, xsum);
  return i32x4.mul(i32x4.sub(zeros4(bits, zrow, b), i32x4.splat(zeroOffset(bits))), xsum);
}

/** Integer sum of one block (cpb chunks) of row codes at w against activations at x. */
@inline function blockDot(bits: i32, cpb: i32, w: usize, x: usize): v128 {
  const E = 128 / bits;
  let s = chunkDot(bits, v128.load(w), x, i32x4.splat(0));
  for (let c = 1; c < cpb; c++) s = chunkDot(bits, v128.load(w + (<usize>c << 4)), x + <usize>(c * E) * XB, s);
  return s;
}

/**
 * One token, one row, blocks at least a chunk long (cpb = chunks per block): four blocks at a
 * time, their integer sums reduced together, corrected for the zero points exactly, then
 * scaled: acc += f32(sum - (z - offset) * xsum) * (scale * d).
 */
@inline function rowDot(bits: i32, cpb: i32, w: usize, sc: usize, zrow: usize, blocks: i32, x: usize, xs: usize, xsum: usize): f32 {
  const blob = cpb << 4;
  const bs = cpb * (128 / bits);
  let acc = f32x4.splat(0);
  let b = 0;
  for (; b + 4 <= blocks; b += 4) {
    const s0 = blockDot(bits, cpb, w, x);
    const s1 = blockDot(bits, cpb, w + <usize>blob, x + <usize>bs * XB);
    const s2 = blockDot(bits, cpb, w + <usize>(2 * blob), x + <usize>(2 * bs) * XB);
    const s3 = blockDot(bits, cpb, w + <usize>(3 * blob), x + <usize>(3 * bs) * XB);
    const r = i32x4.sub(reduce4(s0, s1, s2, s3), zeroTimesSum4(bits, zrow, b, v128.load(xsum + (<usize>b << 2))));
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(r), f32x4.mul(v128.load(sc + (<usize>b << 2)), v128.load(xs + (<usize>b << 2)))));
    w += <usize>(blob << 2);
    x += <usize>(bs << 2) * XB;
  }
  let tail: f32 = 0;
  for (; b < blocks; b++) {
    const r = hsumI(blockDot(bits, cpb, w, x)) - (zeroOf(bits, zrow, b) - zeroOffset(bits)) * load<i32>(xsum + (<usize>b << 2));
    tail += <f32>r * (load<f32>(sc + (<usize>b << 2)) * load<f32>(xs + (<usize>b << 2)));
    w += <usize>blob;
    x += <usize>bs * XB;
  }
  return hsumF(acc) + tail;
}

/**
 * Four tokens, one row: each chunk of codes is split into planes once and meets the four
 * tokens' activations (rows of xq, ldq apart); the block's four sums become one vector over
 * tokens. xs4/xsum4 hold the tokens' block scales and sums side by side.
 */
@inline function rowDot4(bits: i32, cpb: i32, w: usize, sc: usize, zrow: usize, blocks: i32, x: usize, ldq: usize, xs4: usize, xsum4: usize): v128 {
  const E = 128 / bits;
  const zo = zeroOffset(bits);
  let acc = f32x4.splat(0);
  for (let b = 0; b < blocks; b++) {
    let s0 = i32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    for (let c = 0; c < cpb; c++) {
      const v = v128.load(w);
      s0 = chunkDot(bits, v, x, s0);
      s1 = chunkDot(bits, v, x + ldq, s1);
      s2 = chunkDot(bits, v, x + 2 * ldq, s2);
      s3 = chunkDot(bits, v, x + 3 * ldq, s3);
      w += 16;
      x += <usize>E * XB;
    }
    const xs = v128.load(xsum4 + (<usize>b << 4));
    const r = i32x4.sub(reduce4(s0, s1, s2, s3), zrow == 0 ? symmetricCorrection(bits, xs) : i32x4.mul(i32x4.splat(zeroOf(bits, zrow, b) - zo), xs));
    const d = f32x4.mul(v128.load(xs4 + (<usize>b << 4)), f32x4.splat(load<f32>(sc + (<usize>b << 2))));
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(r), d));
  }
  return acc;
}

/**
 * Blocks shorter than a chunk (int4 g16; int2 g16 and g32): each lane of a chunk's sums lies
 * in one block (lpb lanes per block), so blocks are summed from lanes. One token, one row.
 */
@inline function rowDotSmall(bits: i32, w: usize, sc: usize, zrow: usize, blocks: i32, bs: i32, x: usize, xs: usize, xsum: usize): f32 {
  const E = 128 / bits;
  const perChunk = E / bs; // blocks per chunk: 2 or 4
  const zo = zeroOffset(bits);
  let acc: f32 = 0;
  for (let b = 0; b < blocks; b += perChunk) {
    // A last chunk with fewer blocks reads codes past the row (the heap keeps slack after
    // every allocation); the lanes of those blocks are never used.
    const l = chunkLanes(bits, v128.load(w), x);
    const l0 = i32x4.extract_lane(l, 0), l1 = i32x4.extract_lane(l, 1), l2 = i32x4.extract_lane(l, 2), l3 = i32x4.extract_lane(l, 3);
    const n = min(perChunk, blocks - b);
    for (let j = 0; j < n; j++) {
      const s = perChunk == 4 ? (j == 0 ? l0 : j == 1 ? l1 : j == 2 ? l2 : l3) : j == 0 ? l0 + l1 : l2 + l3;
      const bb = b + j;
      const r = s - (zeroOf(bits, zrow, bb) - zo) * load<i32>(xsum + (<usize>bb << 2));
      acc += <f32>r * (load<f32>(sc + (<usize>bb << 2)) * load<f32>(xs + (<usize>bb << 2)));
    }
    w += 16;
    x += <usize>E * XB;
  }
  return acc;
}

/** Rows [n0, n1) of one token block [t0, t1) for a given width; the dispatch below specialises it. */
@inline function gemmRows(
  bits: i32, cpb: i32, wd: usize, t0: i32, t1: i32, xq: usize, ldq: i32, xs: usize, xsum: usize, ldb: i32,
  xs4: usize, xsum4: usize, y: usize, ldy: i32, n0: i32, n1: i32,
): void {
  const blocks = slot(wd, W_BLOCKS);
  const bs = slot(wd, W_BS);
  const data = <usize>slot(wd, W_DATA);
  const scales = <usize>slot(wd, W_SCALES);
  const zp = <usize>slot(wd, W_ZP);
  const zpRow = <usize>slot(wd, W_ZPROW);
  const bias = <usize>slot(wd, W_BIAS);
  const rowBytes = <usize>blocks * <usize>((bs * bits) >> 3);
  const small = bs * bits < 128;
  for (let n = n0; n < n1; n++) {
    const w = data + <usize>n * rowBytes;
    const sc = scales + (<usize>n * <usize>blocks << 2);
    const zrow: usize = zp == 0 ? 0 : zp + <usize>n * zpRow;
    const b: f32 = bias == 0 ? 0 : load<f32>(bias + (<usize>n << 2));
    let t = t0;
    if (!small) {
      for (; t + 4 <= t1; t += 4) {
        const g4 = <usize>(t >> 2) * <usize>ldb << 4;
        const r = rowDot4(bits, cpb, w, sc, zrow, blocks, xq + <usize>t * <usize>ldq, <usize>ldq, xs4 + g4, xsum4 + g4);
        const o = y + (<usize>t * <usize>ldy + <usize>n << 2);
        const stride = <usize>ldy << 2;
        store<f32>(o, f32x4.extract_lane(r, 0) + b);
        store<f32>(o + stride, f32x4.extract_lane(r, 1) + b);
        store<f32>(o + 2 * stride, f32x4.extract_lane(r, 2) + b);
        store<f32>(o + 3 * stride, f32x4.extract_lane(r, 3) + b);
      }
    }
    for (; t < t1; t++) {
      const x = xq + <usize>t * <usize>ldq;
      const s = xs + (<usize>t * <usize>ldb << 2);
      const u = xsum + (<usize>t * <usize>ldb << 2);
      const r = small ? rowDotSmall(bits, w, sc, zrow, blocks, bs, x, s, u) : rowDot(bits, cpb, w, sc, zrow, blocks, x, s, u);
      store<f32>(y + (<usize>t * <usize>ldy + <usize>n << 2), r + b);
    }
  }
}

// One function per width and chunks-per-block, each with its constants written out: inlined
// into one dispatcher, Binaryen left `bits` a variable and V8 branched on it inside the loops.
function gemmInt4g32(wd: usize, t0: i32, t1: i32, xq: usize, ldq: i32, xs: usize, xsum: usize, ldb: i32, xs4: usize, xsum4: usize, y: usize, ldy: i32, n0: i32, n1: i32): void {
  gemmRows(4, 1, wd, t0, t1, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
}
function gemmInt4(wd: usize, t0: i32, t1: i32, xq: usize, ldq: i32, xs: usize, xsum: usize, ldb: i32, xs4: usize, xsum4: usize, y: usize, ldy: i32, n0: i32, n1: i32): void {
  gemmRows(4, max(1, slot(wd, W_BS) >> 5), wd, t0, t1, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
}
function gemmInt8g32(wd: usize, t0: i32, t1: i32, xq: usize, ldq: i32, xs: usize, xsum: usize, ldb: i32, xs4: usize, xsum4: usize, y: usize, ldy: i32, n0: i32, n1: i32): void {
  gemmRows(8, 2, wd, t0, t1, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
}
function gemmInt8(wd: usize, t0: i32, t1: i32, xq: usize, ldq: i32, xs: usize, xsum: usize, ldb: i32, xs4: usize, xsum4: usize, y: usize, ldy: i32, n0: i32, n1: i32): void {
  gemmRows(8, slot(wd, W_BS) >> 4, wd, t0, t1, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
}
function gemmInt2(wd: usize, t0: i32, t1: i32, xq: usize, ldq: i32, xs: usize, xsum: usize, ldb: i32, xs4: usize, xsum4: usize, y: usize, ldy: i32, n0: i32, n1: i32): void {
  gemmRows(2, max(1, slot(wd, W_BS) >> 6), wd, t0, t1, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
}

/**
 * y[t, n] for tokens [0, M) and rows [n0, n1) of the NBits weight described at wd; xs4/xsum4
 * may be 0 when M < 4. Groups of 4 tokens take the 4-token tile, the rest one at a time.
 */
export function nbitsGemm(
  wd: usize, M: i32, xq: usize, ldq: i32, xs: usize, xsum: usize, ldb: i32, xs4: usize, xsum4: usize,
  y: usize, ldy: i32, n0: i32, n1: i32,
): void {
  const bits = slot(wd, W_BITS);
  const bs = slot(wd, W_BS);
  const t1 = xs4 == 0 ? 0 : M & ~3; // the 4-token tile needs the side-by-side scales
  for (let pass = 0; pass < 2; pass++) {
    const a = pass == 0 ? 0 : t1;
    const e = pass == 0 ? t1 : M;
    if (a >= e) continue;
    if (bits == 4) {
      if (bs == 32) gemmInt4g32(wd, a, e, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
      else gemmInt4(wd, a, e, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
    } else if (bits == 8) {
      if (bs == 32) gemmInt8g32(wd, a, e, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
      else gemmInt8(wd, a, e, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
    } else {
      gemmInt2(wd, a, e, xq, ldq, xs, xsum, ldb, xs4, xsum4, y, ldy, n0, n1);
    }
  }
}

export { W_N, W_K };

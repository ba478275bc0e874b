// @ts-nocheck -- AssemblyScript (compiled by scripts/build-wasm.ts), not TypeScript.
//
import { XB } from './nbits';

// Activations quantized to int8 per block (llama.cpp's Q8 idea), to meet block-quantized
// weights in integer dot products. Per token row and per block of `bs` inputs:
//   d = max|x| / 127 (f32), q = nearest(x / d) clamped to [-127, 127] (ties to even; x * (1/d)),
// the same f32 operations as quantizeActsReference (src/engine/reference/kernels-reference.ts).
//
//   xq   i8 or i16 [M, ldq bytes]  q in the weights' chunk order (i16 in the plain-SIMD build,
//                      for i32x4.dot_i16x8_s; XB in nbits.ts): a chunk is the E = 128/bits inputs that
//                      one 16-byte group of codes covers, split into P = 8/bits planes of 16
//                      bytes; plane p, lane i holds input i*P + p of the chunk (so plane p
//                      meets the codes at bit offset p*bits of each byte). ldq >= blocks*bs,
//                      a whole number of chunks; inputs past K are 0.
//   xs   f32 [M, ldb]  d per block; blocks past `blocks` (padding) are 0
//   xsum i32 [M, ldb]  sum of q per block (the zero-point correction)
//   xs4, xsum4 [ceil(M/4), ldb, 4]  the same, 4 tokens side by side (the 4-token GEMM tile), or 0

@inline function quantizeBlock(x: usize, n: i32, tmp: usize): f32 {
  let amax = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= n; k += 4) amax = f32x4.max(amax, f32x4.abs(v128.load(x + (<usize>k << 2))));
  let m = max(max(f32x4.extract_lane(amax, 0), f32x4.extract_lane(amax, 1)), max(f32x4.extract_lane(amax, 2), f32x4.extract_lane(amax, 3)));
  for (; k < n; k++) m = max(m, abs(load<f32>(x + (<usize>k << 2))));
  const d: f32 = m / 127;
  const id: f32 = d > 0 ? <f32>1 / d : 0;
  const vid = f32x4.splat(id);
  k = 0;
  for (; k + 16 <= n; k += 16) {
    const p = x + (<usize>k << 2);
    const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p), vid)));
    const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 16), vid)));
    const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 32), vid)));
    const e = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 48), vid)));
    const q = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, e));
    v128.store(tmp + <usize>k, i8x16.max_s(q, i8x16.splat(-127)));
  }
  for (; k < n; k++) {
    let q = <i32>nearest(load<f32>(x + (<usize>k << 2)) * id);
    q = q > 127 ? 127 : q < -127 ? -127 : q;
    store<i8>(tmp + <usize>k, <i8>q);
  }
  return d;
}

/** 16 i8 lanes to dst: as they are (relaxed build) or sign-extended to i16 (plain build). */
@inline function put16(dst: usize, v: v128): void {
  if (ASC_FEATURE_RELAXED_SIMD) v128.store(dst, v);
  else {
    v128.store(dst, i16x8.extend_low_i8x16_s(v));
    v128.store(dst, i16x8.extend_high_i8x16_s(v), 16);
  }
}

/** Natural-order codes of one chunk at `src` -> plane order at `dst` (see the header). */
@inline function toPlanes(bits: i32, src: usize, dst: usize): void {
  const P: usize = 16 * XB; // bytes per plane
  if (bits == 8) {
    put16(dst, v128.load(src));
  } else if (bits == 4) {
    const a = v128.load(src);
    const b = v128.load(src, 16);
    put16(dst, i8x16.shuffle(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
    put16(dst + P, i8x16.shuffle(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
  } else {
    const a = v128.load(src);
    const b = v128.load(src, 16);
    const c = v128.load(src, 32);
    const d = v128.load(src, 48);
    // Plane p: lanes p, p+4, p+8, p+12 of a, b, c, d in turn.
    put16(dst, i8x16.shuffle(
      i8x16.shuffle(a, b, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0),
      i8x16.shuffle(c, d, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0),
      0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
    put16(dst + P, i8x16.shuffle(
      i8x16.shuffle(a, b, 1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0),
      i8x16.shuffle(c, d, 1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0),
      0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
    put16(dst + 2 * P, i8x16.shuffle(
      i8x16.shuffle(a, b, 2, 6, 10, 14, 18, 22, 26, 30, 0, 0, 0, 0, 0, 0, 0, 0),
      i8x16.shuffle(c, d, 2, 6, 10, 14, 18, 22, 26, 30, 0, 0, 0, 0, 0, 0, 0, 0),
      0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
    put16(dst + 3 * P, i8x16.shuffle(
      i8x16.shuffle(a, b, 3, 7, 11, 15, 19, 23, 27, 31, 0, 0, 0, 0, 0, 0, 0, 0),
      i8x16.shuffle(c, d, 3, 7, 11, 15, 19, 23, 27, 31, 0, 0, 0, 0, 0, 0, 0, 0),
      0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
  }
}

/** Sum of the int8 values at p[0..n). */
@inline function byteSum(p: usize, n: i32): i32 {
  let acc = i32x4.splat(0);
  let k = 0;
  for (; k + 16 <= n; k += 16) acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(p + <usize>k))));
  let s = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; k < n; k++) s += <i32>load<i8>(p + <usize>k);
  return s;
}

/**
 * Quantizes rows t in [t0, t1) of x [M, ldx] (K inputs each); ldq is the row stride of xq in
 * bytes. `tmp` is scratch of ldq + 64 bytes.
 */
export function quantizeActs(
  x: usize, t0: i32, t1: i32, ldx: i32, K: i32, bits: i32, bs: i32, blocks: i32,
  xq: usize, ldq: i32, xs: usize, xsum: usize, ldb: i32, xs4: usize, xsum4: usize, tmp: usize,
): void {
  const E = 128 / bits;
  for (let t = t0; t < t1; t++) {
    const row = x + (<usize>t * <usize>ldx << 2);
    const s = xs + (<usize>t * <usize>ldb << 2);
    const u = xsum + (<usize>t * <usize>ldb << 2);
    const g4 = (<usize>(t >> 2) * <usize>ldb << 4) + (<usize>(t & 3) << 2);
    memory.fill(tmp, 0, <usize>ldq / XB);
    for (let b = 0; b < ldb; b++) {
      let d: f32 = 0;
      let sum = 0;
      if (b < blocks) {
        const k0 = b * bs;
        const n = min(bs, K - k0);
        d = quantizeBlock(row + (<usize>k0 << 2), n, tmp + <usize>k0);
        sum = byteSum(tmp + <usize>k0, n);
      }
      store<f32>(s + (<usize>b << 2), d);
      store<i32>(u + (<usize>b << 2), sum);
      if (xs4 != 0) {
        store<f32>(xs4 + g4 + (<usize>b << 4), d);
        store<i32>(xsum4 + g4 + (<usize>b << 4), sum);
      }
    }
    const out = xq + <usize>t * <usize>ldq;
    const n = <i32>(<usize>ldq / XB); // activations per row
    for (let c = 0; c < n; c += E) {
      const d = out + <usize>c * XB;
      if (bits == 8) toPlanes(8, tmp + <usize>c, d);
      else if (bits == 4) toPlanes(4, tmp + <usize>c, d);
      else toPlanes(2, tmp + <usize>c, d);
    }
  }
}

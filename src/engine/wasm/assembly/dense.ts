// @ts-nocheck -- AssemblyScript (compiled by scripts/build-wasm.ts), not TypeScript.
//
// Dense products y[t, n] = sum_k x[t, k] W(n, k) (+ bias[n]) for f32 and f16 weights as
// stored: NK = [N, K] (one row per output: a tied embedding table read as the classifier) and
// KN = [K, N] (one row per input: the builder's MatMul initializers, W^T). f16 is widened in
// registers, never in memory.
import { W_N, W_K, W_DATA, W_BIAS, W_KIND, KIND_F16_NK, KIND_F16_KN, KIND_F32_NK, slot } from './layout';

/** Four f16 values (the low 16 bits of each u32 lane) as f32x4, exactly (NaN payloads aside). */
@inline export function halfToF32(h: v128): v128 {
  const em = v128.and(h, i32x4.splat(0x7fff));
  const bits = i32x4.shl(em, 13);
  // Exponent rebias by a multiply: exact for normals and subnormals alike.
  const scaled = f32x4.mul(bits, f32x4.splat(5.192296858534828e33)); // 2^112
  const infNan = i32x4.gt_s(em, i32x4.splat(0x7bff));
  const mag = v128.bitselect(v128.or(bits, i32x4.splat(0x7f800000)), scaled, infNan);
  return v128.or(mag, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** 4 weights from row memory at p (f32, or f16 at half the byte offset). */
@inline function load4(f16: bool, p: usize): v128 {
  return f16 ? halfToF32(i32x4.extend_low_i16x8_u(v128.load64_zero(p))) : v128.load(p);
}

@inline function loadScalar(f16: bool, p: usize): f32 {
  if (!f16) return load<f32>(p);
  return f32x4.extract_lane(halfToF32(i32x4.splat(<i32>load<u16>(p))), 0);
}

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** NK: rows [n0, n1), one token at a time for t in [t0, t1). */
@inline function nkRows1(f16: bool, w: usize, K: i32, x: usize, ldx: i32, y: usize, ldy: i32, bias: usize, t0: i32, t1: i32, n0: i32, n1: i32): void {
  const es: usize = f16 ? 1 : 2; // log2 bytes per weight
  for (let t = t0; t < t1; t++) {
    const xr = x + (<usize>t * <usize>ldx << 2);
    for (let n = n0; n < n1; n++) {
      const wr = w + (<usize>n * <usize>K << es);
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let k = 0;
      for (; k + 16 <= K; k += 16) {
        const p = wr + (<usize>k << es);
        const q = xr + (<usize>k << 2);
        a0 = f32x4.add(a0, f32x4.mul(load4(f16, p), v128.load(q)));
        a1 = f32x4.add(a1, f32x4.mul(load4(f16, p + (4 << es)), v128.load(q, 16)));
        a2 = f32x4.add(a2, f32x4.mul(load4(f16, p + (8 << es)), v128.load(q, 32)));
        a3 = f32x4.add(a3, f32x4.mul(load4(f16, p + (12 << es)), v128.load(q, 48)));
      }
      for (; k + 4 <= K; k += 4) a0 = f32x4.add(a0, f32x4.mul(load4(f16, wr + (<usize>k << es)), v128.load(xr + (<usize>k << 2))));
      let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
      for (; k < K; k++) s += loadScalar(f16, wr + (<usize>k << es)) * load<f32>(xr + (<usize>k << 2));
      store<f32>(y + (<usize>t * <usize>ldy + <usize>n << 2), s + (bias == 0 ? 0 : load<f32>(bias + (<usize>n << 2))));
    }
  }
}

/** hsum of each of four vectors + b, stored at o, o + ly, o + 2 ly, o + 3 ly. */
@inline function store4(o: usize, ly: usize, a0: v128, a1: v128, a2: v128, a3: v128, b: f32): void {
  store<f32>(o, hsum(a0) + b);
  store<f32>(o + ly, hsum(a1) + b);
  store<f32>(o + 2 * ly, hsum(a2) + b);
  store<f32>(o + 3 * ly, hsum(a3) + b);
}

/**
 * NK: four tokens against two rows per pass (8 accumulators), so each loaded (or widened)
 * weight serves four products and each activation two. K must be a multiple of 4 here.
 */
@inline function nkRows4(f16: bool, w: usize, K: i32, x: usize, ldx: i32, y: usize, ldy: i32, bias: usize, t0: i32, n0: i32, n1: i32): void {
  const es: usize = f16 ? 1 : 2;
  const lx = <usize>ldx << 2;
  const ly = <usize>ldy << 2;
  const x0 = x + <usize>t0 * lx;
  let n = n0;
  for (; n + 2 <= n1; n += 2) {
    const wr = w + (<usize>n * <usize>K << es);
    const wr2 = wr + (<usize>K << es);
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (let k = 0; k < K; k += 4) {
      const u = load4(f16, wr + (<usize>k << es));
      const v = load4(f16, wr2 + (<usize>k << es));
      const q = x0 + (<usize>k << 2);
      const q0 = v128.load(q), q1 = v128.load(q + lx), q2 = v128.load(q + 2 * lx), q3 = v128.load(q + 3 * lx);
      a0 = f32x4.add(a0, f32x4.mul(u, q0));
      b0 = f32x4.add(b0, f32x4.mul(v, q0));
      a1 = f32x4.add(a1, f32x4.mul(u, q1));
      b1 = f32x4.add(b1, f32x4.mul(v, q1));
      a2 = f32x4.add(a2, f32x4.mul(u, q2));
      b2 = f32x4.add(b2, f32x4.mul(v, q2));
      a3 = f32x4.add(a3, f32x4.mul(u, q3));
      b3 = f32x4.add(b3, f32x4.mul(v, q3));
    }
    const o = y + (<usize>t0 * <usize>ldy + <usize>n << 2);
    store4(o, ly, a0, a1, a2, a3, bias == 0 ? 0 : load<f32>(bias + (<usize>n << 2)));
    store4(o + 4, ly, b0, b1, b2, b3, bias == 0 ? 0 : load<f32>(bias + (<usize>(n + 1) << 2)));
  }
  if (n < n1) nkRows1(f16, w, K, x, ldx, y, ldy, bias, t0, t0 + 4, n, n1);
}

/**
 * NK over tokens [0, M): rows in blocks that stay in cache while every group of four tokens
 * passes over them (so the weight is read from memory once per call), the tokens left over
 * one at a time.
 */
@inline function nkGemm(f16: bool, w: usize, K: i32, x: usize, ldx: i32, y: usize, ldy: i32, bias: usize, M: i32, n0: i32, n1: i32): void {
  const M4 = (K & 3) == 0 ? M & ~3 : 0;
  for (let nb = n0; nb < n1; nb += 64) {
    const ne = min(n1, nb + 64);
    for (let t = 0; t < M4; t += 4) nkRows4(f16, w, K, x, ldx, y, ldy, bias, t, nb, ne);
    nkRows1(f16, w, K, x, ldx, y, ldy, bias, M4, M, nb, ne);
  }
}

/** KN: one token; column tiles of 16 (then 4, then 1) over all of K. */
@inline function knCols1(f16: bool, w: usize, N: i32, K: i32, x: usize, y: usize, bias: usize, n0: i32, n1: i32): void {
  const es: usize = f16 ? 1 : 2;
  const row = <usize>N << es;
  let n = n0;
  for (; n + 16 <= n1; n += 16) {
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let p = w + (<usize>n << es);
    for (let k = 0; k < K; k++) {
      const s = f32x4.splat(load<f32>(x + (<usize>k << 2)));
      a0 = f32x4.add(a0, f32x4.mul(s, load4(f16, p)));
      a1 = f32x4.add(a1, f32x4.mul(s, load4(f16, p + (4 << es))));
      a2 = f32x4.add(a2, f32x4.mul(s, load4(f16, p + (8 << es))));
      a3 = f32x4.add(a3, f32x4.mul(s, load4(f16, p + (12 << es))));
      p += row;
    }
    const o = y + (<usize>n << 2);
    if (bias != 0) {
      const bp = bias + (<usize>n << 2);
      a0 = f32x4.add(a0, v128.load(bp));
      a1 = f32x4.add(a1, v128.load(bp, 16));
      a2 = f32x4.add(a2, v128.load(bp, 32));
      a3 = f32x4.add(a3, v128.load(bp, 48));
    }
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  for (; n + 4 <= n1; n += 4) {
    let a = f32x4.splat(0);
    let p = w + (<usize>n << es);
    for (let k = 0; k < K; k++) {
      a = f32x4.add(a, f32x4.mul(f32x4.splat(load<f32>(x + (<usize>k << 2))), load4(f16, p)));
      p += row;
    }
    if (bias != 0) a = f32x4.add(a, v128.load(bias + (<usize>n << 2)));
    v128.store(y + (<usize>n << 2), a);
  }
  for (; n < n1; n++) {
    let s: f32 = 0;
    for (let k = 0; k < K; k++) s += load<f32>(x + (<usize>k << 2)) * loadScalar(f16, w + ((<usize>k * <usize>N + <usize>n) << es));
    store<f32>(y + (<usize>n << 2), s + (bias == 0 ? 0 : load<f32>(bias + (<usize>n << 2))));
  }
}

/** KN: four tokens x 8 columns per tile (8 accumulators), over all of K. */
@inline function knCols4(f16: bool, w: usize, N: i32, K: i32, x: usize, ldx: i32, y: usize, ldy: i32, bias: usize, n0: i32, n1: i32): i32 {
  const es: usize = f16 ? 1 : 2;
  const row = <usize>N << es;
  const lx = <usize>ldx << 2;
  const ly = <usize>ldy << 2;
  let n = n0;
  for (; n + 8 <= n1; n += 8) {
    let a0 = f32x4.splat(0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
    let p = w + (<usize>n << es);
    let q = x;
    for (let k = 0; k < K; k++) {
      const u = load4(f16, p);
      const v = load4(f16, p + (4 << es));
      const s0 = f32x4.splat(load<f32>(q));
      const s1 = f32x4.splat(load<f32>(q + lx));
      const s2 = f32x4.splat(load<f32>(q + 2 * lx));
      const s3 = f32x4.splat(load<f32>(q + 3 * lx));
      a0 = f32x4.add(a0, f32x4.mul(s0, u));
      b0 = f32x4.add(b0, f32x4.mul(s0, v));
      a1 = f32x4.add(a1, f32x4.mul(s1, u));
      b1 = f32x4.add(b1, f32x4.mul(s1, v));
      a2 = f32x4.add(a2, f32x4.mul(s2, u));
      b2 = f32x4.add(b2, f32x4.mul(s2, v));
      a3 = f32x4.add(a3, f32x4.mul(s3, u));
      b3 = f32x4.add(b3, f32x4.mul(s3, v));
      p += row;
      q += 4;
    }
    const bl = bias == 0 ? f32x4.splat(0) : v128.load(bias + (<usize>n << 2));
    const bh = bias == 0 ? f32x4.splat(0) : v128.load(bias + (<usize>n << 2), 16);
    const o = y + (<usize>n << 2);
    v128.store(o, f32x4.add(a0, bl));
    v128.store(o, f32x4.add(b0, bh), 16);
    v128.store(o + ly, f32x4.add(a1, bl));
    v128.store(o + ly, f32x4.add(b1, bh), 16);
    v128.store(o + 2 * ly, f32x4.add(a2, bl));
    v128.store(o + 2 * ly, f32x4.add(b2, bh), 16);
    v128.store(o + 3 * ly, f32x4.add(a3, bl));
    v128.store(o + 3 * ly, f32x4.add(b3, bh), 16);
  }
  return n; // columns [n, n1) are left to the one-token path
}

@inline function gemm(f16: bool, nk: bool, wd: usize, M: i32, x: usize, ldx: i32, y: usize, ldy: i32, n0: i32, n1: i32): void {
  const w = <usize>slot(wd, W_DATA);
  const N = slot(wd, W_N);
  const K = slot(wd, W_K);
  const bias = <usize>slot(wd, W_BIAS);
  const M4 = M & ~3;
  if (nk) {
    nkGemm(f16, w, K, x, ldx, y, ldy, bias, M, n0, n1);
    return;
  }
  for (let t = 0; t < M4; t += 4) {
    const xt = x + (<usize>t * <usize>ldx << 2);
    const yt = y + (<usize>t * <usize>ldy << 2);
    const rest = knCols4(f16, w, N, K, xt, ldx, yt, ldy, bias, n0, n1);
    for (let u = 0; u < 4; u++) {
      knCols1(f16, w, N, K, xt + (<usize>u * <usize>ldx << 2), yt + (<usize>u * <usize>ldy << 2), bias, rest, n1);
    }
  }
  for (let t = M4; t < M; t++) knCols1(f16, w, N, K, x + (<usize>t * <usize>ldx << 2), y + (<usize>t * <usize>ldy << 2), bias, n0, n1);
}

// One function per storage and layout, constants written out (see nbits.ts on why).
function gemmF32NK(wd: usize, M: i32, x: usize, ldx: i32, y: usize, ldy: i32, n0: i32, n1: i32): void {
  gemm(false, true, wd, M, x, ldx, y, ldy, n0, n1);
}
function gemmF32KN(wd: usize, M: i32, x: usize, ldx: i32, y: usize, ldy: i32, n0: i32, n1: i32): void {
  gemm(false, false, wd, M, x, ldx, y, ldy, n0, n1);
}
function gemmF16NK(wd: usize, M: i32, x: usize, ldx: i32, y: usize, ldy: i32, n0: i32, n1: i32): void {
  gemm(true, true, wd, M, x, ldx, y, ldy, n0, n1);
}
function gemmF16KN(wd: usize, M: i32, x: usize, ldx: i32, y: usize, ldy: i32, n0: i32, n1: i32): void {
  gemm(true, false, wd, M, x, ldx, y, ldy, n0, n1);
}

/** y[t, n] for tokens [0, M) and outputs [n0, n1) of the dense weight described at wd. */
export function denseGemm(wd: usize, M: i32, x: usize, ldx: i32, y: usize, ldy: i32, n0: i32, n1: i32): void {
  const kind = slot(wd, W_KIND);
  if (kind == KIND_F16_NK) gemmF16NK(wd, M, x, ldx, y, ldy, n0, n1);
  else if (kind == KIND_F16_KN) gemmF16KN(wd, M, x, ldx, y, ldy, n0, n1);
  else if (kind == KIND_F32_NK) gemmF32NK(wd, M, x, ldx, y, ldy, n0, n1);
  else gemmF32KN(wd, M, x, ldx, y, ldy, n0, n1);
}

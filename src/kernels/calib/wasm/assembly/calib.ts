// @ts-nocheck -- AssemblyScript (compiled to WASM SIMD by scripts/build-wasm.ts), not TypeScript.
//
// The heavy products of calibration, in f32 with plain (deterministic) SIMD: no relaxed
// madd, whose fusing differs between machines, so Node and Chromium give the same bits.
// Every sum runs in one fixed order (each output lane accumulates its terms in index
// order), whatever the tile it falls in. Memory is managed by the JS loader (../calib-wasm.ts).
//
// Layouts (row-major, f32 unless said):
//   x   [T, K]       activations, one row per token
//   wt  [K, Np]      a linear weight transposed (W is [N, K]); Np = N rounded up to 8, zero-padded
//   y   [T, Np]      outputs
//   g   [Kp, Kp]     Gram matrix xᵀx, Kp = K rounded up to 8

export function heapBase(): usize {
  return __heap_base;
}

// y = x · wt (sub != 0: y -= x · wt, the sum formed first): 4 rows × 8 outputs per tile,
// k in order. x rows are ldx floats apart (ldx >= K), so x may be a column range of a wider matrix.
export function matmul(x: usize, ldx: i32, T: i32, K: i32, wt: usize, Np: i32, y: usize, sub: i32): void {
  const rowX = (<usize>ldx) << 2;
  const rowW = (<usize>Np) << 2;
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const x0 = x + <usize>t * rowX;
    const x1 = x0 + rowX;
    const x2 = x1 + rowX;
    const x3 = x2 + rowX;
    const y0 = y + <usize>t * rowW;
    for (let n = 0; n < Np; n += 8) {
      let a0 = f32x4.splat(0),
        b0 = f32x4.splat(0);
      let a1 = f32x4.splat(0),
        b1 = f32x4.splat(0);
      let a2 = f32x4.splat(0),
        b2 = f32x4.splat(0);
      let a3 = f32x4.splat(0),
        b3 = f32x4.splat(0);
      let wp = wt + ((<usize>n) << 2);
      for (let k = 0; k < K; k++) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        const off = (<usize>k) << 2;
        const s0 = v128.load32_splat(x0 + off);
        const s1 = v128.load32_splat(x1 + off);
        const s2 = v128.load32_splat(x2 + off);
        const s3 = v128.load32_splat(x3 + off);
        a0 = f32x4.add(a0, f32x4.mul(s0, w0));
        b0 = f32x4.add(b0, f32x4.mul(s0, w1));
        a1 = f32x4.add(a1, f32x4.mul(s1, w0));
        b1 = f32x4.add(b1, f32x4.mul(s1, w1));
        a2 = f32x4.add(a2, f32x4.mul(s2, w0));
        b2 = f32x4.add(b2, f32x4.mul(s2, w1));
        a3 = f32x4.add(a3, f32x4.mul(s3, w0));
        b3 = f32x4.add(b3, f32x4.mul(s3, w1));
        wp += rowW;
      }
      const o = y0 + ((<usize>n) << 2);
      put(o, a0, sub);
      put(o + 16, b0, sub);
      put(o + rowW, a1, sub);
      put(o + rowW + 16, b1, sub);
      put(o + 2 * rowW, a2, sub);
      put(o + 2 * rowW + 16, b2, sub);
      put(o + 3 * rowW, a3, sub);
      put(o + 3 * rowW + 16, b3, sub);
    }
  }
  for (; t < T; t++) {
    const x0 = x + <usize>t * rowX;
    const y0 = y + <usize>t * rowW;
    for (let n = 0; n < Np; n += 8) {
      let a0 = f32x4.splat(0),
        b0 = f32x4.splat(0);
      let wp = wt + ((<usize>n) << 2);
      for (let k = 0; k < K; k++) {
        const s0 = v128.load32_splat(x0 + ((<usize>k) << 2));
        a0 = f32x4.add(a0, f32x4.mul(s0, v128.load(wp)));
        b0 = f32x4.add(b0, f32x4.mul(s0, v128.load(wp, 16)));
        wp += rowW;
      }
      const o = y0 + ((<usize>n) << 2);
      put(o, a0, sub);
      put(o + 16, b0, sub);
    }
  }
}

function put(p: usize, v: v128, sub: i32): void {
  v128.store(p, sub ? f32x4.sub(v128.load(p), v) : v);
}

// Rows i0..i1 (multiples of 4) of g = xᵀx for x [T, Kp] (rows padded to Kp, a multiple of
// 8): the upper triangle by tiles of 4 rows × 8 columns, t in order, written at g's row i;
// mirror() completes g. One window at a time; the caller sums windows in float64.
export function gram(x: usize, T: i32, Kp: i32, g: usize, i0: i32, i1: i32): void {
  const row = (<usize>Kp) << 2;
  for (let i = i0; i < i1; i += 4) {
    for (let j = i & ~7; j < Kp; j += 8) {
      let a0 = f32x4.splat(0),
        b0 = f32x4.splat(0);
      let a1 = f32x4.splat(0),
        b1 = f32x4.splat(0);
      let a2 = f32x4.splat(0),
        b2 = f32x4.splat(0);
      let a3 = f32x4.splat(0),
        b3 = f32x4.splat(0);
      let p = x;
      const pi = (<usize>i) << 2;
      const pj = (<usize>j) << 2;
      for (let t = 0; t < T; t++) {
        const w0 = v128.load(p + pj);
        const w1 = v128.load(p + pj, 16);
        const s0 = v128.load32_splat(p + pi);
        const s1 = v128.load32_splat(p + pi, 4);
        const s2 = v128.load32_splat(p + pi, 8);
        const s3 = v128.load32_splat(p + pi, 12);
        a0 = f32x4.add(a0, f32x4.mul(s0, w0));
        b0 = f32x4.add(b0, f32x4.mul(s0, w1));
        a1 = f32x4.add(a1, f32x4.mul(s1, w0));
        b1 = f32x4.add(b1, f32x4.mul(s1, w1));
        a2 = f32x4.add(a2, f32x4.mul(s2, w0));
        b2 = f32x4.add(b2, f32x4.mul(s2, w1));
        a3 = f32x4.add(a3, f32x4.mul(s3, w0));
        b3 = f32x4.add(b3, f32x4.mul(s3, w1));
        p += row;
      }
      const o = g + <usize>i * row + pj;
      v128.store(o, a0);
      v128.store(o, b0, 16);
      v128.store(o + row, a1);
      v128.store(o + row, b1, 16);
      v128.store(o + 2 * row, a2);
      v128.store(o + 2 * row, b2, 16);
      v128.store(o + 3 * row, a3);
      v128.store(o + 3 * row, b3, 16);
    }
  }
}

// Copies g's upper triangle onto its lower one (the tiles also computed some lower entries, in
// the same order, but copying keeps g exactly symmetric).
export function mirror(g: usize, Kp: i32): void {
  const row = (<usize>Kp) << 2;
  for (let i = 1; i < Kp; i++) {
    for (let j = 0; j < i; j++) store<f32>(g + <usize>i * row + ((<usize>j) << 2), load<f32>(g + <usize>j * row + ((<usize>i) << 2)));
  }
}

// Rows i0..i1 (multiples of 4) of g = aᵀb for a, b [T, Kp]: every tile (g is not
// symmetric), t in order, written at g's row i.
export function cross(a: usize, b: usize, T: i32, Kp: i32, g: usize, i0: i32, i1: i32): void {
  const row = (<usize>Kp) << 2;
  for (let i = i0; i < i1; i += 4) {
    for (let j = 0; j < Kp; j += 8) {
      let a0 = f32x4.splat(0),
        b0 = f32x4.splat(0);
      let a1 = f32x4.splat(0),
        b1 = f32x4.splat(0);
      let a2 = f32x4.splat(0),
        b2 = f32x4.splat(0);
      let a3 = f32x4.splat(0),
        b3 = f32x4.splat(0);
      let pa = a + ((<usize>i) << 2);
      let pb = b + ((<usize>j) << 2);
      for (let t = 0; t < T; t++) {
        const w0 = v128.load(pb);
        const w1 = v128.load(pb, 16);
        const s0 = v128.load32_splat(pa);
        const s1 = v128.load32_splat(pa, 4);
        const s2 = v128.load32_splat(pa, 8);
        const s3 = v128.load32_splat(pa, 12);
        a0 = f32x4.add(a0, f32x4.mul(s0, w0));
        b0 = f32x4.add(b0, f32x4.mul(s0, w1));
        a1 = f32x4.add(a1, f32x4.mul(s1, w0));
        b1 = f32x4.add(b1, f32x4.mul(s1, w1));
        a2 = f32x4.add(a2, f32x4.mul(s2, w0));
        b2 = f32x4.add(b2, f32x4.mul(s2, w1));
        a3 = f32x4.add(a3, f32x4.mul(s3, w0));
        b3 = f32x4.add(b3, f32x4.mul(s3, w1));
        pa += row;
        pb += row;
      }
      const o = g + <usize>i * row + ((<usize>j) << 2);
      v128.store(o, a0);
      v128.store(o, b0, 16);
      v128.store(o + row, a1);
      v128.store(o + row, b1, 16);
      v128.store(o + 2 * row, a2);
      v128.store(o + 2 * row, b2, 16);
      v128.store(o + 3 * row, a3);
      v128.store(o + 3 * row, b3, 16);
    }
  }
}

// Causal grouped-query attention over one window, for KV heads g0..g1 and their query heads.
// q [T, H*hd] and k, v [T, KV*hd] carry RoPE already; out [T, H*hd] (only those heads'
// columns written). Query head h reads KV head h / (H / KV). Scratch: kt [hd, Tp] (one KV
// head's keys transposed, Tp = T rounded up to 4) and probs [Tp]. Scores and the softmax in
// f32, positions in order; exp is AssemblyScript's Mathf.exp (exp4: the same, four at a time). window > 0: a sliding window, position t
// sees positions t - window + 1 .. t; 0: all.
// Each score is 0 + q0 k0 + q1 k1 + ... in that order, kept in registers for 16 positions at a
// time (each scaled query value is splatted once per 16 keys); each output column's sum runs over
// the positions in order, up to 16 columns per pass over the probabilities. The order of every
// f32 operation is that of the plain loops, so the bits are too (test/node/calib-kernels.test.ts).
export function attention(
  q: usize,
  k: usize,
  v: usize,
  T: i32,
  H: i32,
  KV: i32,
  hd: i32,
  out: usize,
  kt: usize,
  probs: usize,
  g0: i32,
  g1: i32,
  window: i32,
): void {
  const Tp = (T + 3) & ~3;
  const qRow = (<usize>(H * hd)) << 2;
  const kvRow = (<usize>(KV * hd)) << 2;
  const ktRow = (<usize>Tp) << 2;
  const group = H / KV;
  const scale: f32 = 1 / Mathf.sqrt(<f32>hd);
  for (let g = g0; g < g1; g++) {
    // kt[d, s] = k[s, g*hd + d]; the padding columns stay 0 and are never read as scores.
    memory.fill(kt, 0, (<usize>(hd * Tp)) << 2);
    for (let s = 0; s < T; s++) {
      const src = k + <usize>s * kvRow + ((<usize>(g * hd)) << 2);
      for (let d = 0; d < hd; d++) store<f32>(kt + ((<usize>d * <usize>Tp + <usize>s) << 2), load<f32>(src + ((<usize>d) << 2)));
    }
    const vBase = v + ((<usize>(g * hd)) << 2);
    for (let h = g * group; h < (g + 1) * group; h++) {
      for (let t = 0; t < T; t++) {
        const ctx = t + 1;
        const lo = window > 0 && ctx > window ? ctx - window : 0;
        const ctx4 = (ctx + 3) & ~3;
        const qp = q + <usize>t * qRow + ((<usize>(h * hd)) << 2);
        scores(qp, kt, ktRow, hd, scale, probs, lo & ~3, ctx4);
        const mx = rangeMax(probs, lo, ctx);
        // p = exp(score - mx) in place, summed in position order.
        const m4 = f32x4.splat(mx);
        let sum: f32 = 0;
        let s = lo;
        for (; s + 4 <= ctx; s += 4) {
          const at = probs + ((<usize>s) << 2);
          const p = exp4(f32x4.sub(v128.load(at), m4));
          v128.store(at, p);
          sum += f32x4.extract_lane(p, 0);
          sum += f32x4.extract_lane(p, 1);
          sum += f32x4.extract_lane(p, 2);
          sum += f32x4.extract_lane(p, 3);
        }
        for (; s < ctx; s++) {
          const p = Mathf.exp(load<f32>(probs + ((<usize>s) << 2)) - mx);
          store<f32>(probs + ((<usize>s) << 2), p);
          sum += p;
        }
        weightedValues(probs, lo, ctx, vBase, kvRow, hd, f32x4.splat(sum), out + <usize>t * qRow + ((<usize>(h * hd)) << 2));
      }
    }
  }
}

// The largest of probs[lo..hi) (max is exact whatever the order).
// @ts-ignore: decorator
@inline
function rangeMax(probs: usize, lo: i32, hi: i32): f32 {
  let m4 = f32x4.splat(-Infinity);
  let s = lo;
  for (; s + 4 <= hi; s += 4) m4 = f32x4.max(m4, v128.load(probs + ((<usize>s) << 2)));
  let mx = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
  for (; s < hi; s++) mx = max(mx, load<f32>(probs + ((<usize>s) << 2)));
  return mx;
}

// 2^(i/32) as f64 bits, less i << 47, for i = 0..31: the table of the exp below, as
// AssemblyScript's Mathf.exp has it (computed for this file with 80-digit decimals, rounded to nearest).
const EXP_TABLE = memory.data<u64>([
  0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b, 0x3fef54873168b9aa,
  0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
  0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74,
  0x3feea11473eb0187, 0x3feea589994cce13, 0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
  0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
  0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
]);

// exp of each lane, bit for bit Mathf.exp (AssemblyScript's expf, after musl): x / ln2 * 32 =
// k + r, exp(x) = 2^(k/32) (the table, k's high bits in the exponent) * a cubic in r, all in f64
// with the same operations in the same order (wasm has no fused multiply-add, so each is rounded
// as the scalar one is). Lanes with |x| >= 88 or NaN, rare in a softmax, take Mathf.exp itself.
// @ts-ignore: decorator
@inline
function exp4(x: v128): v128 {
  if (v128.any_true(i32x4.ge_u(v128.and(i32x4.shr_u(x, 20), i32x4.splat(0x7ff)), i32x4.splat(0x42b)))) {
    return f32x4(
      Mathf.exp(f32x4.extract_lane(x, 0)),
      Mathf.exp(f32x4.extract_lane(x, 1)),
      Mathf.exp(f32x4.extract_lane(x, 2)),
      Mathf.exp(f32x4.extract_lane(x, 3)),
    );
  }
  const lo = exp2lanes(f64x2.promote_low_f32x4(x));
  const hi = exp2lanes(f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1)));
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

// @ts-ignore: decorator
@inline
function exp2lanes(xd: v128): v128 {
  const N: f64 = 32;
  const shift = f64x2.splat(reinterpret<f64>(0x4338000000000000)); // 0x1.8p+52
  const z = f64x2.mul(f64x2.splat(reinterpret<f64>(0x3ff71547652b82fe) * N), xd);
  const kd = f64x2.add(z, shift);
  const r = f64x2.sub(z, f64x2.sub(kd, shift));
  const t0 = load<u64>(EXP_TABLE + ((<usize>i64x2.extract_lane(kd, 0) & 31) << 3));
  const t1 = load<u64>(EXP_TABLE + ((<usize>i64x2.extract_lane(kd, 1) & 31) << 3));
  const s = i64x2.add(i64x2(t0, t1), i64x2.shl(kd, 47));
  const zz = f64x2.add(f64x2.mul(f64x2.splat(reinterpret<f64>(0x3fac6af84b912394) / N / N / N), r), f64x2.splat(reinterpret<f64>(0x3fcebfce50fac4f3) / N / N));
  let y = f64x2.add(f64x2.mul(f64x2.splat(reinterpret<f64>(0x3fe62e42ff0c52d6) / N), r), f64x2.splat(1));
  y = f64x2.add(y, f64x2.mul(zz, f64x2.mul(r, r)));
  return f64x2.mul(y, s);
}

// probs[s] = Σ_d (q[d] * scale) * kt[d, s] for s in s0..s1 (multiples of 4), from 0, d in order.
// @ts-ignore: decorator
@inline
function scores(qp: usize, kt: usize, ktRow: usize, hd: i32, scale: f32, probs: usize, s0: i32, s1: i32): void {
  let s = s0;
  for (; s + 16 <= s1; s += 16) {
    const o = (<usize>s) << 2;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let d = 0; d < hd; d++) {
      const qd = f32x4.splat(load<f32>(qp + ((<usize>d) << 2)) * scale);
      const kp = kt + <usize>d * ktRow + o;
      a0 = f32x4.add(a0, f32x4.mul(qd, v128.load(kp)));
      a1 = f32x4.add(a1, f32x4.mul(qd, v128.load(kp, 16)));
      a2 = f32x4.add(a2, f32x4.mul(qd, v128.load(kp, 32)));
      a3 = f32x4.add(a3, f32x4.mul(qd, v128.load(kp, 48)));
    }
    v128.store(probs + o, a0);
    v128.store(probs + o, a1, 16);
    v128.store(probs + o, a2, 32);
    v128.store(probs + o, a3, 48);
  }
  for (; s < s1; s += 4) {
    const o = (<usize>s) << 2;
    let a = f32x4.splat(0);
    for (let d = 0; d < hd; d++) {
      a = f32x4.add(a, f32x4.mul(f32x4.splat(load<f32>(qp + ((<usize>d) << 2)) * scale), v128.load(kt + <usize>d * ktRow + o)));
    }
    v128.store(probs + o, a);
  }
}

// op[d] = (Σ_s probs[s] * v[s, d]) / sum for d < hd, s in lo..ctx in order: up to 16 columns a pass.
// @ts-ignore: decorator
@inline
function weightedValues(probs: usize, lo: i32, ctx: i32, vBase: usize, kvRow: usize, hd: i32, sum: v128, op: usize): void {
  let d = 0;
  for (; d + 16 <= hd; d += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    const vd = vBase + ((<usize>d) << 2);
    for (let s = lo; s < ctx; s++) {
      const p = v128.load32_splat(probs + ((<usize>s) << 2));
      const vp = vd + <usize>s * kvRow;
      a0 = f32x4.add(a0, f32x4.mul(p, v128.load(vp)));
      a1 = f32x4.add(a1, f32x4.mul(p, v128.load(vp, 16)));
      a2 = f32x4.add(a2, f32x4.mul(p, v128.load(vp, 32)));
      a3 = f32x4.add(a3, f32x4.mul(p, v128.load(vp, 48)));
    }
    const o = op + ((<usize>d) << 2);
    v128.store(o, f32x4.div(a0, sum));
    v128.store(o, f32x4.div(a1, sum), 16);
    v128.store(o, f32x4.div(a2, sum), 32);
    v128.store(o, f32x4.div(a3, sum), 48);
  }
  for (; d + 8 <= hd; d += 8) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    const vd = vBase + ((<usize>d) << 2);
    for (let s = lo; s < ctx; s++) {
      const p = v128.load32_splat(probs + ((<usize>s) << 2));
      const vp = vd + <usize>s * kvRow;
      a0 = f32x4.add(a0, f32x4.mul(p, v128.load(vp)));
      a1 = f32x4.add(a1, f32x4.mul(p, v128.load(vp, 16)));
    }
    const o = op + ((<usize>d) << 2);
    v128.store(o, f32x4.div(a0, sum));
    v128.store(o, f32x4.div(a1, sum), 16);
  }
  for (; d + 4 <= hd; d += 4) {
    let acc = f32x4.splat(0);
    for (let s = lo; s < ctx; s++) {
      acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(probs + ((<usize>s) << 2)), v128.load(vBase + <usize>s * kvRow + ((<usize>d) << 2))));
    }
    v128.store(op + ((<usize>d) << 2), f32x4.div(acc, sum));
  }
  const total = f32x4.extract_lane(sum, 0);
  for (; d < hd; d++) {
    let acc: f32 = 0;
    for (let s = lo; s < ctx; s++) acc += load<f32>(probs + ((<usize>s) << 2)) * load<f32>(vBase + <usize>s * kvRow + ((<usize>d) << 2));
    store<f32>(op + ((<usize>d) << 2), acc / total);
  }
}

// ---- GPTQ / SparseGPT: one column block of the error-feedback loop --------------------
//
//   wt     [K, Np]  the weight transposed: row i is column i of W (in processing order);
//                   updated in place, rows i1..i2 end as the quantized (and pruned) values
//   u      [K, K]   upper Cholesky factor of H^-1 (H^-1 = uᵀu), f32
//   err    [B, Np]  out: (w - q) / u[i,i] of each column of the block
//   keep   [K, Np]  u8, 1 = keep; read for the block's rows; N:M rows are written here
//   codes  [K, Np]  u8 out, when quantizing
//   scales, zeros [G, Np]  f32 group parameters; computed here at each group's first
//                   column when dynamic != 0, else given
//   groupOf [K]     i32, the group of each processed column
// Quantization is the RTN rule of src/kernels/quantize/rtn-reference.ts (range holding 0,
// f32 ops, round half to even), with `bits`-wide codes. With search != 0 each dynamic
// group's range is shrunk by the factor in 1, 0.99, ..., 0.21 whose codes cost least,
// Σ (w - q)² / u[r,r]² (the loss the loop pays for the group's columns).
export function gptqBlock(
  wt: usize,
  Np: i32,
  K: i32,
  u: usize,
  i1: i32,
  i2: i32,
  err: usize,
  keep: usize,
  nmN: i32,
  nmM: i32,
  quant: i32,
  bits: i32,
  symmetric: i32,
  group: i32,
  dynamic: i32,
  search: i32,
  scales: usize,
  zeros: usize,
  groupOf: usize,
  codes: usize,
): void {
  const row = (<usize>Np) << 2;
  const codeMax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const divisor = <f32>(symmetric ? mid - 1 : codeMax);
  for (let i = i1; i < i2; i++) {
    const wi = wt + <usize>i * row;
    if (nmM > 0 && (i - i1) % nmM == 0) nmMask(wt, Np, u, K, i, nmN, nmM, keep);
    const gi = load<i32>(groupOf + ((<usize>i) << 2));
    if (quant && dynamic && i % group == 0) {
      groupParams(
        wt,
        Np,
        keep,
        u,
        K,
        i,
        min(i + group, K),
        divisor,
        codeMax,
        mid,
        symmetric,
        search,
        scales + <usize>gi * row,
        zeros + <usize>gi * row,
      );
    }
    const d = load<f32>(u + ((<usize>i * <usize>K + <usize>i) << 2));
    const ep = err + <usize>(i - i1) * row;
    const kp = keep + <usize>i * <usize>Np;
    const sp = scales + <usize>gi * row;
    const zp = zeros + <usize>gi * row;
    const cp = codes + <usize>i * <usize>Np;
    for (let n = 0; n < Np; n++) {
      const w = load<f32>(wi + ((<usize>n) << 2));
      let q: f32 = 0;
      if (load<u8>(kp + n)) {
        if (quant) {
          const scale = load<f32>(sp + ((<usize>n) << 2));
          const zero = load<f32>(zp + ((<usize>n) << 2));
          let code = zero;
          if (scale != 0) code = min(max(nearest<f32>(w / scale) + zero, 0), <f32>codeMax);
          store<u8>(cp + n, <u8>(<i32>code));
          q = (code - zero) * scale;
        } else {
          q = w;
        }
      } else if (quant) {
        store<u8>(cp + n, <u8>(<i32>load<f32>(zp + ((<usize>n) << 2))));
      }
      store<f32>(wi + ((<usize>n) << 2), q);
      store<f32>(ep + ((<usize>n) << 2), (w - q) / d);
    }
    // The rest of the block sees this column's error: wt[j] -= err * u[i, j].
    for (let j = i + 1; j < i2; j++) {
      const c = f32x4.splat(load<f32>(u + ((<usize>i * <usize>K + <usize>j) << 2)));
      const wj = wt + <usize>j * row;
      for (let n = 0; n < Np; n += 4) {
        const o = (<usize>n) << 2;
        v128.store(wj + o, f32x4.sub(v128.load(wj + o), f32x4.mul(v128.load(ep + o), c)));
      }
    }
  }
}

// Group parameters [Np] from rows r0..r1 of wt (kept weights only; a pruned one counts as 0),
// four rows of W at a time: each lane does the scalar rule's f32 steps in the same order.
function groupParams(
  wt: usize,
  Np: i32,
  keep: usize,
  u: usize,
  K: i32,
  r0: i32,
  r1: i32,
  divisor: f32,
  codeMax: i32,
  mid: i32,
  symmetric: i32,
  search: i32,
  sp: usize,
  zp: usize,
): void {
  const row = (<usize>Np) << 2;
  const vdiv = f32x4.splat(divisor);
  const vmax = f32x4.splat(<f32>codeMax);
  const vmid = f32x4.splat(<f32>mid);
  const vzero = f32x4.splat(0);
  for (let n = 0; n < Np; n += 4) {
    let lo = vzero;
    let hi = vzero;
    for (let r = r0; r < r1; r++) {
      const w = v128.and(v128.load(wt + <usize>r * row + ((<usize>n) << 2)), keepMask(keep + <usize>r * <usize>Np + n));
      lo = f32x4.pmin(lo, w); // w < lo ? w : lo
      hi = f32x4.pmax(hi, w);
    }
    let bestScale = f32x4.splat(0);
    let bestZero = f32x4.splat(0);
    let bestLoss = f32x4.splat(Infinity);
    const steps = search ? 80 : 1;
    for (let step = 0; step < steps; step++) {
      const f = f32x4.splat(<f32>1 - <f32>step / 100);
      const l = f32x4.mul(lo, f);
      const h = f32x4.mul(hi, f);
      const scale = f32x4.div(symmetric ? f32x4.max(h, f32x4.neg(l)) : f32x4.sub(h, l), vdiv);
      const flat = f32x4.eq(scale, vzero);
      const zero = symmetric
        ? vmid
        : v128.bitselect(vzero, f32x4.min(f32x4.max(f32x4.nearest(f32x4.div(f32x4.neg(l), scale)), vzero), vmax), flat);
      let loss = f32x4.splat(0);
      if (search) {
        for (let r = r0; r < r1; r++) {
          const w = v128.load(wt + <usize>r * row + ((<usize>n) << 2));
          const code = v128.bitselect(zero, f32x4.min(f32x4.max(f32x4.add(f32x4.nearest(f32x4.div(w, scale)), zero), vzero), vmax), flat);
          const e = f32x4.sub(w, f32x4.mul(f32x4.sub(code, zero), scale));
          const d = load<f32>(u + ((<usize>r * <usize>K + <usize>r) << 2));
          const term = f32x4.div(f32x4.mul(e, e), f32x4.splat(d * d));
          loss = f32x4.add(loss, v128.and(term, keepMask(keep + <usize>r * <usize>Np + n)));
        }
      }
      const better = f32x4.lt(loss, bestLoss);
      bestLoss = v128.bitselect(loss, bestLoss, better);
      bestScale = v128.bitselect(scale, bestScale, better);
      bestZero = v128.bitselect(zero, bestZero, better);
    }
    v128.store(sp + ((<usize>n) << 2), bestScale);
    v128.store(zp + ((<usize>n) << 2), bestZero);
  }
}

// All-ones lanes where keep[0..4) is non-zero.

function keepMask(p: usize): v128 {
  const bytes = v128.load32_zero(p);
  return i32x4.ne(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(bytes)), i32x4.splat(0));
}

// SparseGPT's N:M choice for columns i..i+m-1: in each row, keep the n with the largest
// w² / u[c,c]² (current values); ties prune the lower column first.
function nmMask(wt: usize, Np: i32, u: usize, K: i32, i: i32, n: i32, m: i32, keep: usize): void {
  const row = (<usize>Np) << 2;
  const prune = m - n;
  for (let r = 0; r < Np; r++) {
    for (let j = 0; j < m; j++) {
      const dj = load<f32>(u + ((<usize>(i + j) * <usize>K + <usize>(i + j)) << 2));
      const wj = load<f32>(wt + <usize>(i + j) * row + ((<usize>r) << 2));
      const sj: f32 = (wj * wj) / (dj * dj);
      let rank = 0;
      for (let l = 0; l < m; l++) {
        const dl = load<f32>(u + ((<usize>(i + l) * <usize>K + <usize>(i + l)) << 2));
        const wl = load<f32>(wt + <usize>(i + l) * row + ((<usize>r) << 2));
        const sl: f32 = (wl * wl) / (dl * dl);
        if (sl < sj || (sl == sj && l < j)) rank++;
      }
      store<u8>(keep + <usize>(i + j) * <usize>Np + r, rank < prune ? 0 : 1);
    }
  }
}

// ---- The inverse-Hessian factor, in float64 (see ../../cholesky.ts) ------------------------

// Σ a[k] b[k] for k < n, two f64 lanes then the tail.

function dot64(a: usize, b: usize, n: i32): f64 {
  let acc = f64x2.splat(0);
  let k = 0;
  for (; k + 2 <= n; k += 2) acc = f64x2.add(acc, f64x2.mul(v128.load(a + ((<usize>k) << 3)), v128.load(b + ((<usize>k) << 3))));
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; k < n; k++) s += load<f64>(a + ((<usize>k) << 3)) * load<f64>(b + ((<usize>k) << 3));
  return s;
}

// a [K, K] (row-major f64) = L Lᵀ: L written into the lower triangle. 0 when not positive definite.
export function cholesky64(a: usize, K: i32): i32 {
  const row = (<usize>K) << 3;
  for (let j = 0; j < K; j++) {
    const rj = a + <usize>j * row;
    const d = load<f64>(rj + ((<usize>j) << 3)) - dot64(rj, rj, j);
    if (!(d > 0)) return 0;
    const l = Math.sqrt(d);
    store<f64>(rj + ((<usize>j) << 3), l);
    for (let i = j + 1; i < K; i++) {
      const ri = a + <usize>i * row;
      store<f64>(ri + ((<usize>j) << 3), (load<f64>(ri + ((<usize>j) << 3)) - dot64(ri, rj, j)) / l);
    }
  }
  return 1;
}

// inv [K, K] = L⁻¹ (lower) from the L in a's lower triangle; x: scratch [K] f64.
export function lowerInverse64(a: usize, K: i32, inv: usize, x: usize): void {
  const row = (<usize>K) << 3;
  memory.fill(inv, 0, <usize>K * row);
  for (let j = 0; j < K; j++) {
    // L x = e_j by forward substitution from row j; x[k] = 0 for k < j.
    store<f64>(x + ((<usize>j) << 3), 1 / load<f64>(a + <usize>j * row + ((<usize>j) << 3)));
    for (let i = j + 1; i < K; i++) {
      const ri = a + <usize>i * row;
      const s = dot64(ri + ((<usize>j) << 3), x + ((<usize>j) << 3), i - j);
      store<f64>(x + ((<usize>i) << 3), -s / load<f64>(ri + ((<usize>i) << 3)));
    }
    for (let i = j; i < K; i++) store<f64>(inv + <usize>i * row + ((<usize>j) << 3), load<f64>(x + ((<usize>i) << 3)));
  }
}

// SwiGLU in place over n values: gate = gate / (1 + e^-gate) * up, in f32 (AssemblyScript's Mathf.exp).
export function swiglu(gate: usize, up: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = (<usize>i) << 2;
    const g = load<f32>(gate + p);
    store<f32>(gate + p, (g / (1 + Mathf.exp(-g))) * load<f32>(up + p));
  }
}

// @ts-nocheck -- AssemblyScript (compiled by scripts/build-wasm.ts), not TypeScript.
//
// The small steps between the matrix products, each as onnxruntime's graph computes it in f32:
// RMSNorm, rotate-half RoPE, the residual add, SwiGLU, embedding rows, the KV cache append.
import { halfToF32 } from './dense';

/** out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w, rows of `dim`. */
export function rmsNorm(x: usize, w: usize, T: i32, dim: i32, eps: f32, out: usize): void {
  for (let t = 0; t < T; t++) {
    const xr = x + (<usize>t * <usize>dim << 2);
    const orow = out + (<usize>t * <usize>dim << 2);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= dim; i += 4) {
      const v = v128.load(xr + (<usize>i << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let ss = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    for (; i < dim; i++) ss += load<f32>(xr + (<usize>i << 2)) * load<f32>(xr + (<usize>i << 2));
    const rms = f32x4.splat(Mathf.sqrt(ss / <f32>dim + eps));
    i = 0;
    for (; i + 4 <= dim; i += 4) {
      const o = <usize>i << 2;
      v128.store(orow + o, f32x4.mul(f32x4.div(v128.load(xr + o), rms), v128.load(w + o)));
    }
    const r = f32x4.extract_lane(rms, 0);
    for (; i < dim; i++) store<f32>(orow + (<usize>i << 2), load<f32>(xr + (<usize>i << 2)) / r * load<f32>(w + (<usize>i << 2)));
  }
}

/**
 * Rotate-half RoPE in place on rows of x [T, ld] holding `heads` heads of hd: element i pairs
 * with i + hd/2. cos, sin: f32 [T, hd/2] for the rows' positions.
 */
export function rope(x: usize, T: i32, ld: i32, heads: i32, hd: i32, cos: usize, sin: usize): void {
  const half = hd >> 1;
  for (let t = 0; t < T; t++) {
    const c = cos + (<usize>(t * half) << 2);
    const s = sin + (<usize>(t * half) << 2);
    for (let h = 0; h < heads; h++) {
      const p = x + (<usize>(t * ld + h * hd) << 2);
      const p2 = p + (<usize>half << 2);
      let i = 0;
      for (; i + 4 <= half; i += 4) {
        const o = <usize>i << 2;
        const a = v128.load(p + o);
        const b = v128.load(p2 + o);
        const cv = v128.load(c + o);
        const sv = v128.load(s + o);
        v128.store(p + o, f32x4.sub(f32x4.mul(a, cv), f32x4.mul(b, sv)));
        v128.store(p2 + o, f32x4.add(f32x4.mul(b, cv), f32x4.mul(a, sv)));
      }
      for (; i < half; i++) {
        const o = <usize>i << 2;
        const a = load<f32>(p + o);
        const b = load<f32>(p2 + o);
        const cv = load<f32>(c + o);
        const sv = load<f32>(s + o);
        store<f32>(p + o, a * cv - b * sv);
        store<f32>(p2 + o, b * cv + a * sv);
      }
    }
  }
}

/** x += y over n floats. */
export function addInPlace(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.add(v128.load(x + o), v128.load(y + o)));
  }
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) + load<f32>(y + (<usize>i << 2)));
}

/** SwiGLU on columns [n0, n1) of T rows (stride ld): g = g * sigmoid(g) * u. */
export function siluMul(g: usize, u: usize, T: i32, ld: i32, n0: i32, n1: i32): void {
  for (let t = 0; t < T; t++) {
    for (let n = n0; n < n1; n++) {
      const o = <usize>(t * ld + n) << 2;
      const v = load<f32>(g + o);
      store<f32>(g + o, v * (<f32>1 / (<f32>1 + Mathf.exp(-v))) * load<f32>(u + o));
    }
  }
}

/**
 * GeGLU (Gemma) on columns [n0, n1) of T rows (stride ld): g = gelu_tanh(g) * u, GELU's tanh
 * approximation 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) in f32. Its scalar reference:
 * gegluTanh in src/model/reference-ops.ts (float64), compared in test/node/engine-ops.test.ts.
 */
export function geluTanhMul(g: usize, u: usize, T: i32, ld: i32, n0: i32, n1: i32): void {
  const k: f32 = 0.7978845608028654; // sqrt(2 / pi)
  for (let t = 0; t < T; t++) {
    for (let n = n0; n < n1; n++) {
      const o = <usize>(t * ld + n) << 2;
      const v = load<f32>(g + o);
      const inner = k * (v + <f32>0.044715 * v * v * v);
      store<f32>(g + o, <f32>0.5 * v * (<f32>1 + Mathf.tanh(inner)) * load<f32>(u + o));
    }
  }
}

/** Rows of an f32 or f16 table [vocab, dim] for the ids at `ids` (i32 [T]) -> out [T, dim]. */
export function embedDense(table: usize, f16: bool, dim: i32, ids: usize, T: i32, out: usize): void {
  for (let t = 0; t < T; t++) {
    const id = <usize>load<i32>(ids + (<usize>t << 2));
    const o = out + (<usize>(t * dim) << 2);
    if (!f16) {
      memory.copy(o, table + (id * <usize>dim << 2), <usize>dim << 2);
      continue;
    }
    const r = table + (id * <usize>dim << 1);
    let i = 0;
    for (; i + 4 <= dim; i += 4) v128.store(o + (<usize>i << 2), halfToF32(i32x4.extend_low_i16x8_u(v128.load64_zero(r + (<usize>i << 1)))));
    for (; i < dim; i++) store<f32>(o + (<usize>i << 2), f32x4.extract_lane(halfToF32(i32x4.splat(<i32>load<u16>(r + (<usize>i << 1)))), 0));
  }
}

/**
 * Rows of a block-quantized table (GatherBlockQuantized over MatMulNBits bytes: codes [vocab,
 * blocks, bs*bits/8], scales [vocab, blocks], zero points packed or 2^(bits-1)):
 * out = (code - zero) * scale, in f32.
 */
export function embedNBits(codes: usize, scales: usize, zp: usize, zpRow: i32, bits: i32, bs: i32, dim: i32, ids: usize, T: i32, out: usize): void {
  const blocks = (dim + bs - 1) / bs;
  const rowBytes = <usize>((blocks * bs * bits) >> 3);
  const mask = (1 << bits) - 1;
  for (let t = 0; t < T; t++) {
    const id = <usize>load<i32>(ids + (<usize>t << 2));
    const c = codes + id * rowBytes;
    const o = out + (<usize>(t * dim) << 2);
    for (let k = 0; k < dim; k++) {
      const b = k / bs;
      const bit = k * bits;
      const code = (<i32>load<u8>(c + <usize>(bit >> 3)) >> (bit & 7)) & mask;
      let zero = 1 << (bits - 1);
      if (zp != 0) {
        const zb = b * bits;
        zero = (<i32>load<u8>(zp + id * <usize>zpRow + <usize>(zb >> 3)) >> (zb & 7)) & mask;
      }
      store<f32>(o + (<usize>k << 2), <f32>(code - zero) * load<f32>(scales + ((id * <usize>blocks + <usize>b) << 2)));
    }
  }
}

/** Appends rows k, v [T, kvHeads*hd] at positions start.. of caches [kvHeads, cap, hd]. */
export function storeKV(k: usize, v: usize, T: i32, kvHeads: i32, hd: i32, keys: usize, values: usize, cap: i32, start: i32): void {
  const row = <usize>hd << 2;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < kvHeads; h++) {
      const src = <usize>(t * kvHeads * hd + h * hd) << 2;
      const dst = (<usize>h * <usize>cap + <usize>(start + t)) * row;
      memory.copy(keys + dst, k + src, row);
      memory.copy(values + dst, v + src, row);
    }
  }
}

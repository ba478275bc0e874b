// @ts-nocheck -- AssemblyScript (compiled by scripts/build-wasm.ts), not TypeScript.
//
// Causal grouped-query attention over the KV cache, one (token, query head) pair at a time:
// scores = (q . k_s) * scale for the positions s the token may see, softmax (max subtracted,
// exp / sum, as onnxruntime's Softmax), then sum_s p_s v_s.
//   q    f32 [T, heads*hd] (RoPE applied)      keys, values f32 [kvHeads, cap, hd]
//   out  f32 [T, heads*hd]                      scratch f32: >= start + T floats for this thread
// window > 0: a sliding window, position p sees positions p - window + 1 .. p (0: all before it).

@inline function dot(a: usize, b: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(a + (<usize>i << 2)), v128.load(b + (<usize>i << 2))));
  let s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

/** Pairs i in [i0, i1) of (token t = i / heads, head h = i % heads). */
export function attention(
  q: usize, T: i32, start: i32, heads: i32, kvHeads: i32, hd: i32, keys: usize, values: usize, cap: i32,
  out: usize, scale: f32, scratch: usize, i0: i32, i1: i32, window: i32,
): void {
  const group = heads / kvHeads;
  const width = heads * hd;
  const rowBytes = <usize>hd << 2;
  for (let i = i0; i < i1; i++) {
    const t = i / heads;
    const h = i % heads;
    const ctx = start + t + 1;
    const lo = window > 0 && ctx > window ? ctx - window : 0; // first position seen
    const qp = q + (<usize>(t * width + h * hd) << 2);
    const kv = <usize>(h / group) * <usize>cap * rowBytes;
    const kp = keys + kv;
    const vp = values + kv;
    let mx: f32 = -Infinity;
    for (let s = lo; s < ctx; s++) {
      const v = dot(qp, kp + <usize>s * rowBytes, hd) * scale;
      store<f32>(scratch + (<usize>s << 2), v);
      mx = max(mx, v);
    }
    let sum: f32 = 0;
    for (let s = lo; s < ctx; s++) {
      const e = Mathf.exp(load<f32>(scratch + (<usize>s << 2)) - mx);
      store<f32>(scratch + (<usize>s << 2), e);
      sum += e;
    }
    for (let s = lo; s < ctx; s++) store<f32>(scratch + (<usize>s << 2), load<f32>(scratch + (<usize>s << 2)) / sum);
    const op = out + (<usize>(t * width + h * hd) << 2);
    let d = 0;
    // 16 head dims at a time in registers, every position streamed through them.
    for (; d + 16 <= hd; d += 16) {
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let p = vp + (<usize>d << 2) + <usize>lo * rowBytes;
      for (let s = lo; s < ctx; s++) {
        const w = f32x4.splat(load<f32>(scratch + (<usize>s << 2)));
        a0 = f32x4.add(a0, f32x4.mul(w, v128.load(p)));
        a1 = f32x4.add(a1, f32x4.mul(w, v128.load(p, 16)));
        a2 = f32x4.add(a2, f32x4.mul(w, v128.load(p, 32)));
        a3 = f32x4.add(a3, f32x4.mul(w, v128.load(p, 48)));
        p += rowBytes;
      }
      const o = op + (<usize>d << 2);
      v128.store(o, a0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
    }
    for (; d + 4 <= hd; d += 4) {
      let a = f32x4.splat(0);
      let p = vp + (<usize>d << 2) + <usize>lo * rowBytes;
      for (let s = lo; s < ctx; s++) {
        a = f32x4.add(a, f32x4.mul(f32x4.splat(load<f32>(scratch + (<usize>s << 2))), v128.load(p)));
        p += rowBytes;
      }
      v128.store(op + (<usize>d << 2), a);
    }
    for (; d < hd; d++) {
      let a: f32 = 0;
      for (let s = lo; s < ctx; s++) a += load<f32>(scratch + (<usize>s << 2)) * load<f32>(vp + <usize>s * rowBytes + (<usize>d << 2));
      store<f32>(op + (<usize>d << 2), a);
    }
  }
}

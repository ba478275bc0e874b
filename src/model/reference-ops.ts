import { ropeAttentionScale, ropeInverseFrequencies } from './rope-frequencies.ts';

/**
 * The numeric building blocks of the fp32 reference forward pass, as plain loops over
 * Float32Array. Clarity and accuracy come first: every dot product and every reduction
 * accumulates in a JS number (float64), and only the stored results are rounded to fp32.
 * Activations are row-major [T, width]: one row per token position.
 */

/**
 * y = x · wᵀ (+ bias): the nn.Linear convention.
 * x: [T, inDim], w: [outDim, inDim], bias: [outDim] or null  ->  y: [T, outDim]
 */
export function linear(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  T: number,
  inDim: number,
  outDim: number,
): Float32Array {
  const y = new Float32Array(T * outDim);
  // Register blocking: four weight rows against two activation rows, so each loaded value
  // feeds several products. Every output still keeps its own float64 sum, in input order.
  let o = 0;
  for (; o + 3 < outDim; o += 4) {
    const w0 = o * inDim,
      w1 = w0 + inDim,
      w2 = w1 + inDim,
      w3 = w2 + inDim;
    const b0 = bias === null ? 0 : bias[o]!,
      b1 = bias === null ? 0 : bias[o + 1]!;
    const b2 = bias === null ? 0 : bias[o + 2]!,
      b3 = bias === null ? 0 : bias[o + 3]!;
    let t = 0;
    for (; t + 1 < T; t += 2) {
      const xa = t * inDim,
        xb = xa + inDim;
      let a0 = 0,
        a1 = 0,
        a2 = 0,
        a3 = 0,
        c0 = 0,
        c1 = 0,
        c2 = 0,
        c3 = 0;
      for (let i = 0; i < inDim; i++) {
        const va = x[xa + i]!,
          vb = x[xb + i]!;
        const u0 = w[w0 + i]!,
          u1 = w[w1 + i]!,
          u2 = w[w2 + i]!,
          u3 = w[w3 + i]!;
        a0 += va * u0;
        a1 += va * u1;
        a2 += va * u2;
        a3 += va * u3;
        c0 += vb * u0;
        c1 += vb * u1;
        c2 += vb * u2;
        c3 += vb * u3;
      }
      const ya = t * outDim + o,
        yb = ya + outDim;
      y[ya] = a0 + b0;
      y[ya + 1] = a1 + b1;
      y[ya + 2] = a2 + b2;
      y[ya + 3] = a3 + b3;
      y[yb] = c0 + b0;
      y[yb + 1] = c1 + b1;
      y[yb + 2] = c2 + b2;
      y[yb + 3] = c3 + b3;
    }
    for (; t < T; t++) {
      const xa = t * inDim;
      let a0 = 0,
        a1 = 0,
        a2 = 0,
        a3 = 0;
      for (let i = 0; i < inDim; i++) {
        const va = x[xa + i]!;
        a0 += va * w[w0 + i]!;
        a1 += va * w[w1 + i]!;
        a2 += va * w[w2 + i]!;
        a3 += va * w[w3 + i]!;
      }
      const ya = t * outDim + o;
      y[ya] = a0 + b0;
      y[ya + 1] = a1 + b1;
      y[ya + 2] = a2 + b2;
      y[ya + 3] = a3 + b3;
    }
  }
  for (; o < outDim; o++) {
    const wOff = o * inDim;
    for (let t = 0; t < T; t++) {
      const xOff = t * inDim;
      let sum = 0;
      for (let i = 0; i < inDim; i++) sum += x[xOff + i]! * w[wOff + i]!;
      y[t * outDim + o] = sum + (bias === null ? 0 : bias[o]!);
    }
  }
  return y;
}

/** RMSNorm per row: y = x / sqrt(mean(x²) + eps) * weight.  x: [T, dim], weight: [dim] */
export function rmsNorm(x: Float32Array, weight: Float32Array, T: number, dim: number, eps: number): Float32Array {
  const y = new Float32Array(T * dim);
  for (let t = 0; t < T; t++) {
    const off = t * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[off + i]! * x[off + i]!;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[off + i] = x[off + i]! * inv * weight[i]!;
  }
  return y;
}

/** Cosines and sines of the rotary angles for consecutive positions. Both: [T, half], half = rotary dims / 2 (headDim / 2 unless partial_rotary_factor < 1). */
export interface RopeTable {
  cos: Float64Array;
  sin: Float64Array;
  half: number; // rotated pairs per head: element i pairs with i + half, for i < half
}

/**
 * angle(p, i) = p · invFreq[i] for i < invFreq.length, in float64 (Hugging Face computes these in
 * fp32; the difference is far below what the model can feel). invFreq: from
 * ropeInverseFrequencies (theta^(-2i / rotary dims), rescaled for Llama 3's and LongRoPE's
 * rope_scaling). cos and sin are multiplied by `scale` (LongRoPE's attention factor).
 */
export function ropeTable(start: number, T: number, invFreq: Float64Array, scale = 1): RopeTable {
  const half = invFreq.length;
  const cos = new Float64Array(T * half);
  const sin = new Float64Array(T * half);
  for (let i = 0; i < half; i++) {
    for (let t = 0; t < T; t++) {
      const angle = (start + t) * invFreq[i]!;
      cos[t * half + i] = scale === 1 ? Math.cos(angle) : Math.cos(angle) * scale;
      sin[t * half + i] = scale === 1 ? Math.sin(angle) : Math.sin(angle) * scale;
    }
  }
  return { cos, sin, half };
}

/** The table a forward call over positions start..start+T-1 uses: LongRoPE's factors chosen by the call's end, start + T. */
export function ropeTableFor(c: Parameters<typeof ropeInverseFrequencies>[0], start: number, T: number): RopeTable {
  return ropeTable(start, T, ropeInverseFrequencies(c, start + T), ropeAttentionScale(c));
}

/**
 * Rotates every head in place, Hugging Face "rotate-half" convention over the head's first
 * 2·rope.half values: element i pairs with element i + half (llama2.c pairs 2i with 2i+1; the
 * importer permutes q/k rows so that both conventions give the same model). The values past
 * 2·half (partial_rotary_factor < 1) pass through.
 * x: [T, numHeads * headDim]
 */
export function applyRope(x: Float32Array, T: number, numHeads: number, headDim: number, rope: RopeTable): void {
  const half = rope.half;
  const width = numHeads * headDim;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < numHeads; h++) {
      const off = t * width + h * headDim;
      for (let i = 0; i < half; i++) {
        const c = rope.cos[t * half + i]!;
        const s = rope.sin[t * half + i]!;
        const a = x[off + i]!;
        const b = x[off + i + half]!;
        x[off + i] = a * c - b * s;
        x[off + i + half] = b * c + a * s;
      }
    }
  }
}

/** Shapes for causalAttention: T new positions appended after `start` cached ones. */
export interface AttentionShape {
  T: number;
  start: number;
  numHeads: number;
  numKvHeads: number; // divides numHeads; each KV head serves numHeads/numKvHeads query heads
  headDim: number;
  window?: number; // sliding window: position p sees positions p - window + 1 .. p; absent: all before it
  scale?: number; // what q·k is multiplied by (attentionScale: Gemma's query_pre_attn_scalar^-0.5); absent: 1 / sqrt(headDim)
}

/**
 * Causal grouped-query attention over a cache stored transposed, one row per
 * (KV head, head dim) holding every position: [numKvHeads * headDim, capacity]. Position
 * start+t sees cache columns 0..start+t (with a sliding window W, start+t-W+1..start+t). With that layout every inner loop runs along the
 * positions, which keeps it long even when heads are short (8 here). Scores, softmax and
 * the weighted sums of values run in float64.
 * q: [T, numHeads*headDim] (rotated), keysT/valuesT: [numKvHeads*headDim, capacity]
 * -> [T, numHeads*headDim]
 */
export function causalAttention(
  q: Float32Array,
  keysT: Float32Array,
  valuesT: Float32Array,
  capacity: number,
  shape: AttentionShape,
): Float32Array {
  const { T, start, numHeads, numKvHeads, headDim, window } = shape;
  const qWidth = numHeads * headDim;
  const group = numHeads / numKvHeads; // query head h reads KV head floor(h / group)
  const scale = shape.scale ?? 1 / Math.sqrt(headDim);
  const out = new Float32Array(T * qWidth);
  const probs = new Float64Array(start + T); // [ctx]
  for (let t = 0; t < T; t++) {
    const ctx = start + t + 1;
    const lo = window === undefined ? 0 : Math.max(0, ctx - window); // first column this position sees
    for (let h = 0; h < numHeads; h++) {
      const qOff = t * qWidth + h * headDim;
      const kvRow = Math.floor(h / group) * headDim; // first cache row of this head's KV head
      // Several head dims per pass: fewer loads and stores of probs (headDim is even).
      probs.fill(0, lo, ctx);
      let d0 = 0;
      for (; d0 + 3 < headDim; d0 += 4) {
        const q0 = q[qOff + d0]! * scale,
          q1 = q[qOff + d0 + 1]! * scale;
        const q2 = q[qOff + d0 + 2]! * scale,
          q3 = q[qOff + d0 + 3]! * scale;
        const k0 = (kvRow + d0) * capacity,
          k1 = k0 + capacity,
          k2 = k1 + capacity,
          k3 = k2 + capacity;
        for (let s = lo; s < ctx; s++) {
          probs[s] += q0 * keysT[k0 + s]! + q1 * keysT[k1 + s]! + (q2 * keysT[k2 + s]! + q3 * keysT[k3 + s]!);
        }
      }
      for (let d = d0; d < headDim; d += 2) {
        const q0 = q[qOff + d]! * scale;
        const q1 = q[qOff + d + 1]! * scale;
        const k0 = (kvRow + d) * capacity;
        const k1 = k0 + capacity;
        for (let s = lo; s < ctx; s++) probs[s] += q0 * keysT[k0 + s]! + q1 * keysT[k1 + s]!;
      }
      let max = -Infinity;
      for (let s = lo; s < ctx; s++) if (probs[s]! > max) max = probs[s]!;
      let sum = 0;
      for (let s = lo; s < ctx; s++) {
        const p = Math.exp(probs[s]! - max);
        probs[s] = p;
        sum += p;
      }
      let e0 = 0;
      for (; e0 + 3 < headDim; e0 += 4) {
        const v0 = (kvRow + e0) * capacity,
          v1 = v0 + capacity,
          v2 = v1 + capacity,
          v3 = v2 + capacity;
        let acc0 = 0,
          acc1 = 0,
          acc2 = 0,
          acc3 = 0;
        for (let s = lo; s < ctx; s++) {
          const p = probs[s]!;
          acc0 += p * valuesT[v0 + s]!;
          acc1 += p * valuesT[v1 + s]!;
          acc2 += p * valuesT[v2 + s]!;
          acc3 += p * valuesT[v3 + s]!;
        }
        out[qOff + e0] = acc0 / sum;
        out[qOff + e0 + 1] = acc1 / sum;
        out[qOff + e0 + 2] = acc2 / sum;
        out[qOff + e0 + 3] = acc3 / sum;
      }
      for (let d = e0; d < headDim; d += 2) {
        const v0 = (kvRow + d) * capacity;
        const v1 = v0 + capacity;
        let acc0 = 0,
          acc1 = 0;
        for (let s = lo; s < ctx; s++) {
          const p = probs[s]!;
          acc0 += p * valuesT[v0 + s]!;
          acc1 += p * valuesT[v1 + s]!;
        }
        out[qOff + d] = acc0 / sum;
        out[qOff + d + 1] = acc1 / sum;
      }
    }
  }
  return out;
}

/** SwiGLU in place: gate = silu(gate) · up, silu(g) = g / (1 + e^-g).  Both: [T, ffn] */
export function swiglu(gate: Float32Array, up: Float32Array): Float32Array {
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    gate[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return gate;
}

/** x += y, element-wise (the residual connection). */
export function addInPlace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i]!;
}

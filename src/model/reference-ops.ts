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
  // Four weight rows at a time against one activation row: each x value is loaded once
  // for four products. Every output keeps its own float64 sum, in input order.
  let o = 0;
  for (; o + 3 < outDim; o += 4) {
    const w0 = o * inDim, w1 = w0 + inDim, w2 = w1 + inDim, w3 = w2 + inDim;
    for (let t = 0; t < T; t++) {
      const xOff = t * inDim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let i = 0; i < inDim; i++) {
        const xi = x[xOff + i]!;
        s0 += xi * w[w0 + i]!;
        s1 += xi * w[w1 + i]!;
        s2 += xi * w[w2 + i]!;
        s3 += xi * w[w3 + i]!;
      }
      const yOff = t * outDim + o;
      y[yOff] = s0 + (bias === null ? 0 : bias[o]!);
      y[yOff + 1] = s1 + (bias === null ? 0 : bias[o + 1]!);
      y[yOff + 2] = s2 + (bias === null ? 0 : bias[o + 2]!);
      y[yOff + 3] = s3 + (bias === null ? 0 : bias[o + 3]!);
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

/** Cosines and sines of the rotary angles for consecutive positions. Both: [T, headDim/2] */
export interface RopeTable {
  cos: Float64Array;
  sin: Float64Array;
}

/**
 * angle(p, i) = p · theta^(-2i / headDim) for i < headDim/2, in float64 (Hugging Face
 * computes these in fp32; the difference is far below what the model can feel).
 */
export function ropeTable(start: number, T: number, headDim: number, theta: number): RopeTable {
  const half = headDim / 2;
  const cos = new Float64Array(T * half);
  const sin = new Float64Array(T * half);
  for (let i = 0; i < half; i++) {
    const invFreq = 1 / Math.pow(theta, (2 * i) / headDim);
    for (let t = 0; t < T; t++) {
      const angle = (start + t) * invFreq;
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * Rotates every head in place, Hugging Face "rotate-half" convention: element i pairs with
 * element i + headDim/2 of the same head (llama2.c pairs 2i with 2i+1; the importer
 * permutes q/k rows so that both conventions give the same model).
 * x: [T, numHeads * headDim]
 */
export function applyRope(x: Float32Array, T: number, numHeads: number, headDim: number, rope: RopeTable): void {
  const half = headDim / 2;
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
}

/**
 * Causal grouped-query attention over a cache stored transposed, one row per
 * (KV head, head dim) holding every position: [numKvHeads * headDim, capacity]. Position
 * start+t sees cache columns 0..start+t. With that layout every inner loop runs along the
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
  const { T, start, numHeads, numKvHeads, headDim } = shape;
  const qWidth = numHeads * headDim;
  const group = numHeads / numKvHeads; // query head h reads KV head floor(h / group)
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float32Array(T * qWidth);
  const probs = new Float64Array(start + T); // [ctx]
  for (let t = 0; t < T; t++) {
    const ctx = start + t + 1;
    for (let h = 0; h < numHeads; h++) {
      const qOff = t * qWidth + h * headDim;
      const kvRow = Math.floor(h / group) * headDim; // first cache row of this head's KV head
      // Two head dims per pass (headDim is even): half the loads and stores of probs.
      probs.fill(0, 0, ctx);
      for (let d = 0; d < headDim; d += 2) {
        const q0 = q[qOff + d]! * scale;
        const q1 = q[qOff + d + 1]! * scale;
        const k0 = (kvRow + d) * capacity;
        const k1 = k0 + capacity;
        for (let s = 0; s < ctx; s++) probs[s] += q0 * keysT[k0 + s]! + q1 * keysT[k1 + s]!;
      }
      let max = -Infinity;
      for (let s = 0; s < ctx; s++) if (probs[s]! > max) max = probs[s]!;
      let sum = 0;
      for (let s = 0; s < ctx; s++) {
        const p = Math.exp(probs[s]! - max);
        probs[s] = p;
        sum += p;
      }
      for (let d = 0; d < headDim; d += 2) {
        const v0 = (kvRow + d) * capacity;
        const v1 = v0 + capacity;
        let acc0 = 0, acc1 = 0;
        for (let s = 0; s < ctx; s++) {
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

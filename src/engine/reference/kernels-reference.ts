import { halfToFloat } from '../../kernels/half.ts';

/**
 * Scalar references of the engine's kernels (wasm/assembly/), one plain loop each. The
 * activation quantizer is bit-exact (the same f32 operations in the same order); the
 * products accumulate in float64, so a kernel is checked against them within a named
 * budget for f32 summation order (test/error-budgets.ts).
 */

/** Round half to even, as f32.nearest does. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** One token's activations quantized per block of `bs` (the last block padded with zeros). */
export interface QuantizedActs {
  q: Int8Array; // [blocks * bs], natural order
  d: Float32Array; // [blocks] scale: max|x| / 127
  sum: Int32Array; // [blocks] sum of q
}

/** x [K] -> int8 per block: d = max|x|/127 (f32), q = nearest(x * (1/d)) clamped to +-127 (acts.ts). */
export function quantizeActsReference(x: Float32Array, K: number, bs: number): QuantizedActs {
  const blocks = Math.ceil(K / bs);
  const out: QuantizedActs = { q: new Int8Array(blocks * bs), d: new Float32Array(blocks), sum: new Int32Array(blocks) };
  for (let b = 0; b < blocks; b++) {
    const end = Math.min(K, (b + 1) * bs);
    let amax = 0;
    for (let k = b * bs; k < end; k++) amax = Math.max(amax, Math.abs(x[k]!));
    const d = Math.fround(amax / 127);
    const id = d > 0 ? Math.fround(1 / d) : 0;
    let sum = 0;
    for (let k = b * bs; k < end; k++) {
      const q = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(x[k]! * id))));
      out.q[k] = q;
      sum += q;
    }
    out.d[b] = d;
    out.sum[b] = sum;
  }
  return out;
}

/**
 * Where natural input k sits in the kernels' plane order (acts.ts): a chunk of E = 128/bits
 * inputs, P = 8/bits planes of 16 bytes, input i*P + p of the chunk at plane p, lane i.
 */
export function planeIndex(k: number, bits: number): number {
  const E = 128 / bits;
  const P = 8 / bits;
  const r = k % E;
  return k - r + (r % P) * 16 + Math.floor(r / P);
}

/** A MatMulNBits weight as plain arrays. */
export interface NBitsArrays {
  bits: number;
  blockSize: number;
  N: number;
  K: number;
  codes: Uint8Array; // [N, blocks, bs*bits/8]
  scales: Float32Array; // [N * blocks]
  zeroPoints: Uint8Array | null; // [N, ceil(blocks*bits/8)]
}

const code = (data: Uint8Array, index: number, bits: number) => (data[(index * bits) >> 3]! >> ((index * bits) & 7)) & ((1 << bits) - 1);

/** Zero point of block b of row n (2^(bits-1) when symmetric). */
export function zeroPointOf(w: NBitsArrays, n: number, b: number): number {
  if (!w.zeroPoints) return 1 << (w.bits - 1);
  const row = Math.ceil((Math.ceil(w.K / w.blockSize) * w.bits) / 8);
  return code(w.zeroPoints.subarray(n * row), b, w.bits);
}

/**
 * y[n] = sum_b scale[n,b] * d_b * sum_{k in b} (code - zero) * q_k (+ bias[n]), the integer
 * block sums exact, the rest in float64: what the NBits kernel computes from quantized
 * activations. Also returns sum_b |scale * d * blocksum| per row, the scale of its rounding.
 */
export function nbitsRowReference(
  w: NBitsArrays,
  a: QuantizedActs,
  bias: Float32Array | null,
): { y: Float64Array; magnitude: Float64Array } {
  const blocks = Math.ceil(w.K / w.blockSize);
  const y = new Float64Array(w.N);
  const magnitude = new Float64Array(w.N);
  const rowCodes = blocks * w.blockSize;
  for (let n = 0; n < w.N; n++) {
    for (let b = 0; b < blocks; b++) {
      const zero = zeroPointOf(w, n, b);
      let s = 0;
      for (let k = b * w.blockSize; k < (b + 1) * w.blockSize; k++) s += (code(w.codes, n * rowCodes + k, w.bits) - zero) * a.q[k]!;
      const term = w.scales[n * blocks + b]! * a.d[b]! * s;
      y[n] += term;
      magnitude[n] += Math.abs(term);
    }
    y[n] += bias ? bias[n]! : 0;
  }
  return { y, magnitude };
}

/** The weight an NBits matrix stands for, [N, K] in float64: (code - zero) * scale. */
export function dequantizedRows(w: NBitsArrays): Float64Array {
  const blocks = Math.ceil(w.K / w.blockSize);
  const out = new Float64Array(w.N * w.K);
  for (let n = 0; n < w.N; n++) {
    for (let k = 0; k < w.K; k++) {
      const b = Math.floor(k / w.blockSize);
      out[n * w.K + k] = (code(w.codes, n * blocks * w.blockSize + k, w.bits) - zeroPointOf(w, n, b)) * w.scales[n * blocks + b]!;
    }
  }
  return out;
}

/** A dense weight as stored: f32 or f16 bits, [N, K] ('nk') or [K, N] ('kn'). */
export interface DenseArrays {
  layout: 'nk' | 'kn';
  N: number;
  K: number;
  values: Float32Array | Uint16Array;
}

export function denseValue(w: DenseArrays, n: number, k: number): number {
  const i = w.layout === 'nk' ? n * w.K + k : k * w.N + n;
  return w.values instanceof Uint16Array ? halfToFloat(w.values[i]!) : w.values[i]!;
}

/** y [M, N] = x [M, K] W^T (+ bias), float64, with |terms| summed alongside. */
export function denseGemmReference(
  w: DenseArrays,
  x: Float32Array,
  M: number,
  bias: Float32Array | null,
): { y: Float64Array; magnitude: Float64Array } {
  const y = new Float64Array(M * w.N);
  const magnitude = new Float64Array(M * w.N);
  for (let t = 0; t < M; t++) {
    for (let n = 0; n < w.N; n++) {
      let s = bias ? bias[n]! : 0;
      let m = Math.abs(s);
      for (let k = 0; k < w.K; k++) {
        const term = x[t * w.K + k]! * denseValue(w, n, k);
        s += term;
        m += Math.abs(term);
      }
      y[t * w.N + n] = s;
      magnitude[t * w.N + n] = m;
    }
  }
  return { y, magnitude };
}

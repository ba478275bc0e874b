import { crossReference, gramReference } from '../kernels/calib/gram-reference.ts';
import { gptqReferenceKernel } from '../kernels/calib/gptq-reference.ts';
import type { GptqKernel } from '../kernels/calib/gptq-kernel.ts';
import type { CalibPool } from '../kernels/calib/wasm/calib-pool.ts';
import { prepareWeight, type PreparedWeight, type WasmCalibKernel } from '../kernels/calib/wasm/calib-wasm.ts';
import { causalAttention, linear as referenceLinear, swiglu } from '../model/reference-ops.ts';

/**
 * The heavy products of calibration behind one interface: the linear layers, the causal
 * attention and the Gram matrix xᵀx of one window, and the GPTQ loop. Two backends:
 * - 'reference': the fp32 reference forward's own ops (float64 sums; slow, exact);
 * - 'wasm': the WASM SIMD kernel (f32 sums in a fixed order), the same bits in Node and
 *   in the page, so the CLI and the compress worker write identical files.
 * Tests compare them within the budgets named in test/error-budgets.ts.
 */
export interface AttentionShape {
  T: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  window?: number; // sliding window (config.slidingWindow); absent: all positions before
}

export interface CalibBackend {
  readonly name: 'reference' | 'wasm';
  /** x [T, K] · Wᵀ (+ bias), W [N, K] -> [T, N]. */
  linear(x: Float32Array, T: number, w: Float32Array, N: number, K: number, bias: Float32Array | null): Promise<Float32Array>;
  /** SwiGLU: gate / (1 + e^-gate) · up, element-wise [T, ffn]. */
  swiglu(gate: Float32Array, up: Float32Array): Promise<Float32Array>;
  /** q [T, H*hd], k, v [T, KV*hd] (RoPE applied) -> [T, H*hd]. */
  attention(q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape): Promise<Float32Array>;
  /** xᵀx [K, K] of one window x [T, K]. */
  gram(x: Float32Array, T: number, K: number): Promise<Float32Array | Float64Array>;
  /** aᵀb [K, K] of one window's a, b [T, K]. */
  cross(a: Float32Array, b: Float32Array, T: number, K: number): Promise<Float32Array | Float64Array>;
  readonly gptq: GptqKernel;
}

export const referenceCalibBackend: CalibBackend = Object.freeze({
  name: 'reference' as const,
  linear: async (x: Float32Array, T: number, w: Float32Array, N: number, K: number, bias: Float32Array | null) =>
    referenceLinear(x, w, bias, T, K, N),
  swiglu: async (gate: Float32Array, up: Float32Array) => swiglu(Float32Array.from(gate), up),
  async attention(q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape): Promise<Float32Array> {
    const kvDim = s.numKvHeads * s.headDim;
    const keysT = new Float32Array(kvDim * s.T); // [kvDim, T]: the reference cache layout
    const valuesT = new Float32Array(kvDim * s.T);
    for (let t = 0; t < s.T; t++) {
      for (let r = 0; r < kvDim; r++) {
        keysT[r * s.T + t] = k[t * kvDim + r]!;
        valuesT[r * s.T + t] = v[t * kvDim + r]!;
      }
    }
    return causalAttention(q, keysT, valuesT, s.T, { ...s, start: 0 });
  },
  gram: async (x: Float32Array, T: number, K: number) => gramReference(x, T, K),
  cross: async (a: Float32Array, b: Float32Array, T: number, K: number) => crossReference(a, b, T, K),
  gptq: gptqReferenceKernel,
});

/** Products smaller than this many multiply-adds stay on this thread: a pool's messages would cost more. */
export const POOL_MIN_PRODUCT = 1 << 22;

/**
 * The WASM SIMD backend; each weight is transposed for the kernel once and reused across
 * windows. With a pool, the large products are split over its workers, which gives the
 * same bits (calib-pool.ts), so the pool only changes speed.
 */
export function wasmCalibBackend(kernel: WasmCalibKernel, pool?: CalibPool): CalibBackend {
  const prepared = new WeakMap<Float32Array, PreparedWeight>();
  const big = (macs: number) => pool !== undefined && macs >= POOL_MIN_PRODUCT;
  return {
    name: 'wasm',
    async linear(x, T, w, N, K, bias) {
      let p = prepared.get(w);
      if (!p || p.N !== N || p.K !== K) prepared.set(w, (p = prepareWeight(w, N, K)));
      const y = big(T * N * K) ? await pool!.matmul(x, T, p) : kernel.matmul(x, T, p);
      if (bias) for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) y[t * N + n] = Math.fround(y[t * N + n]! + bias[n]!);
      return y;
    },
    swiglu: async (gate, up) => kernel.swiglu(gate, up),
    attention: async (q, k, v, s) =>
      big(s.T * s.T * s.numHeads * s.headDim) && s.numKvHeads > 1 ? pool!.attention(q, k, v, s) : kernel.attention(q, k, v, s),
    gram: async (x, T, K) => (big(T * K * K) ? pool!.gram(x, null, T, K) : kernel.gram(x, T, K)),
    cross: async (a, b, T, K) => (big(T * K * K) ? pool!.gram(a, b, T, K) : kernel.cross(a, b, T, K)),
    gptq: kernel.gptq,
  };
}

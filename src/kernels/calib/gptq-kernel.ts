import type { TriangularSolver } from './cholesky.ts';

/**
 * What the GPTQ / SparseGPT driver (gptq.ts) needs from a kernel: its buffers and two steps
 * per column block. The scalar reference (gptq-reference.ts) keeps the buffers in plain
 * typed arrays; the WASM SIMD kernel (wasm/calib-wasm.ts) gives views into its memory.
 */

/** The loop's state. Rows are input columns in processing order; Np = N padded for the kernel. */
export interface GptqBuffers {
  wt: Float32Array; // [K, Np] the weight transposed, updated in place
  u: Float32Array; // [K, K] upper factor of H⁻¹ (H⁻¹ = uᵀu)
  uT: Float32Array; // [K, K] its transpose, for the lazy-batch product
  err: Float32Array; // [B, Np] the block's scaled errors
  keep: Uint8Array; // [K, Np] 1 = keep
  codes: Uint8Array; // [K, Np]
  scales: Float32Array; // [G, Np] group parameters
  zeros: Float32Array; // [G, Np] zero points (whole numbers)
  groupOf: Int32Array; // [K] group of each processed column
}

export interface GptqBlockParams {
  nmN: number; // SparseGPT N:M: keep nmN of every nmM columns (nmM = 0: no N:M choice)
  nmM: number;
  quant: boolean;
  bits: number;
  symmetric: boolean;
  group: number;
  dynamic: boolean; // compute each group's parameters when the loop reaches its first column
  search: boolean; // shrink each dynamic group's range to what costs it least (see gptq.ts)
}

export interface GptqKernel {
  readonly name: 'reference' | 'wasm';
  /** Cholesky and triangular inverse for H⁻¹'s factor (cholesky.ts). */
  readonly solver: TriangularSolver;
  /** N rounded up to what the kernel's vector loops need. */
  padRows(N: number): number;
  /** Zeroed buffers for K columns, Np rows, column blocks of B, G groups. */
  buffers(size: { K: number; Np: number; B: number; G: number }): GptqBuffers;
  /** Columns i1..i2-1: quantize and/or prune each, feed its error to the rest of the block. */
  block(b: GptqBuffers, i1: number, i2: number, p: GptqBlockParams): void;
  /** Columns i2..K-1 get the block's errors: wt[j] -= Σᵢ u[i, j] err[i]. */
  lazy(b: GptqBuffers, i1: number, i2: number): void;
}

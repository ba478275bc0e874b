/**
 * How one linear layer's weight goes into the graph. The builder asks a `LinearHook` for
 * each weight, so a quantization step swaps MatMul for MatMulNBits without touching the
 * graph code.
 */
export type LinearWeight = DenseWeight | NBitsWeight | LowRankWeight;

export interface DenseWeight {
  kind: 'dense';
  storage: 'fp32' | 'fp16'; // fp16 is widened back to fp32 by a Cast that ORT folds at load
  weight: Float32Array; // [out, in], as in the checkpoint
  outFeatures: number;
  inFeatures: number;
}

/** A block-quantized weight in com.microsoft.MatMulNBits layout. */
export interface NBitsWeight {
  kind: 'nbits';
  bits: number; // 2..8
  blockSize: number; // power of two >= 16
  outFeatures: number; // N
  inFeatures: number; // K
  packed: Uint8Array; // [N, ceil(K/blockSize), blockSize*bits/8], low bits first
  scales: Float32Array; // [N * ceil(K/blockSize)]
  zeroPoints?: Uint8Array; // [N * ceil(ceil(K/blockSize)*bits/8)], packed like `packed`; absent = 2^(bits-1)
}

/**
 * A weight stored as two factors, W ≈ B A (lr recipes): the graph multiplies x Aᵀ (node
 * `<name>.lowrank_a`), then Bᵀ (node `<name>`, which the bias follows). Each factor is dense
 * or block-quantized like any linear weight.
 */
export interface LowRankWeight {
  kind: 'lowrank';
  outFeatures: number; // N
  inFeatures: number; // K
  rank: number; // r
  a: DenseWeight | NBitsWeight; // [r, K]
  b: DenseWeight | NBitsWeight; // [N, r]
}

/** Turns a checkpoint weight (`name`, [out, in]) into what the graph should hold. */
export type LinearHook = (
  name: string,
  weight: Float32Array,
  outFeatures: number,
  inFeatures: number,
) => LinearWeight | Promise<LinearWeight>;

/** The default hook: keep the weight dense in `storage` precision. */
export function denseHook(storage: 'fp32' | 'fp16'): LinearHook {
  return (_name, weight, outFeatures, inFeatures) => ({ kind: 'dense', storage, weight, outFeatures, inFeatures });
}

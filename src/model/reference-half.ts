import { bf16BytesToFloat32, halfBytesToFloat32 } from '../kernels/half.ts';
import type { TensorHandle } from './ir.ts';

/**
 * A matrix of a 16-bit checkpoint (bf16 or fp16, as published) kept as its stored bytes, so the
 * reference forward pass holds a 1B-parameter bf16 model in 2.2 GB instead of its 4.4 GB fp32
 * copy. Rows are widened when a product needs them, a block at a time, into exactly the values
 * `TensorHandle.read()` would give: every product sums the same fp32 values in the same order,
 * so the logits are bit for bit those of the fp32-widened model.
 *   bytes: little-endian 16-bit elements, row-major [rows, cols]
 */
export interface HalfMatrix {
  readonly dtype: 'BF16' | 'F16';
  readonly bytes: Uint8Array;
  readonly cols: number;
}

/** A weight as the reference holds it: fp32, or 16-bit bytes widened on use. */
export type StoredMatrix = Float32Array | HalfMatrix;

/** Rows widened per block of a product: 4,096 rows of 2,048 columns are 32 MiB of fp32. */
const BLOCK_ELEMENTS = 8 * 1024 * 1024;

/** The tensor's stored bytes when it is a 16-bit tensor whose source can give them; otherwise null (read it as fp32). */
export async function readHalfMatrix(handle: TensorHandle, cols: number): Promise<HalfMatrix | null> {
  if ((handle.dtype !== 'BF16' && handle.dtype !== 'F16') || !handle.readRange) return null;
  const bytes = await handle.readRange(0, handle.byteLength);
  return { dtype: handle.dtype, bytes, cols };
}

/** Rows [r0, r1) as fp32. */
export function widenRows(m: StoredMatrix, r0: number, r1: number, cols: number): Float32Array {
  if (m instanceof Float32Array) return m.subarray(r0 * cols, r1 * cols);
  const part = m.bytes.subarray(r0 * cols * 2, r1 * cols * 2);
  return m.dtype === 'BF16' ? bf16BytesToFloat32(part) : halfBytesToFloat32(part);
}

/** The whole matrix as fp32: the array itself when it is one, else a fresh copy (one layer's matrix at a time). */
export function widenMatrix(m: StoredMatrix): Float32Array {
  if (m instanceof Float32Array) return m;
  return widenRows(m, 0, m.bytes.byteLength / 2 / m.cols, m.cols);
}

/**
 * y = x · wᵀ for a stored matrix w [outDim, inDim], through `linear` on blocks of rows: the
 * classifier of a large vocabulary is never widened whole. x: [T, inDim] -> y: [T, outDim]
 */
export function storedLinear(
  linear: (x: Float32Array, w: Float32Array, bias: null, T: number, inDim: number, outDim: number) => Float32Array,
  x: Float32Array,
  w: StoredMatrix,
  T: number,
  inDim: number,
  outDim: number,
  blockElements = BLOCK_ELEMENTS,
): Float32Array {
  if (w instanceof Float32Array) return linear(x, w, null, T, inDim, outDim);
  const y = new Float32Array(T * outDim);
  const rows = Math.max(1, Math.floor(blockElements / inDim));
  for (let r0 = 0; r0 < outDim; r0 += rows) {
    const r1 = Math.min(outDim, r0 + rows);
    const part = linear(x, widenRows(w, r0, r1, inDim), null, T, inDim, r1 - r0); // [T, r1 - r0]
    for (let t = 0; t < T; t++) y.set(part.subarray(t * (r1 - r0), (t + 1) * (r1 - r0)), t * outDim + r0);
  }
  return y;
}

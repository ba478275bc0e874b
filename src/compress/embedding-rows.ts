import { bf16ToFloat, halfToFloat } from '../kernels/half.ts';
import type { TensorHandle } from '../model/ir.ts';

/**
 * Rows of the token embedding [vocab, dim] for calibration, widened to f32 one row at a time:
 * a 16-bit table (bf16 or fp16, as published) is held as its stored bytes, half of its f32
 * copy (Llama-3.2-1B's 128,256 x 2,048 table: 525 MB instead of 1.05 GB, and no second copy
 * while decoding). Other dtypes are decoded whole, as before. The values are the same either way.
 */
export type EmbeddingRows = (id: number, out: Float32Array, at: number) => void;

export async function embeddingRows(handle: TensorHandle, dim: number): Promise<EmbeddingRows> {
  if ((handle.dtype === 'BF16' || handle.dtype === 'F16') && handle.readRange) {
    const bytes = await handle.readRange(0, handle.byteLength);
    const bits = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength); // little-endian u16 [vocab, dim]
    const widen = handle.dtype === 'BF16' ? bf16ToFloat : halfToFloat;
    return (id, out, at) => {
      for (let j = 0; j < dim; j++) out[at + j] = widen(bits.getUint16(2 * (id * dim + j), true));
    };
  }
  const table = await handle.read(); // [vocab, dim]
  return (id, out, at) => out.set(table.subarray(id * dim, (id + 1) * dim), at);
}

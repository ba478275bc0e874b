import { ShrinkrayError } from '../errors.ts';
import { bf16ToFloat, floatToHalf, halfToFloat } from '../kernels/half.ts';
import type { TensorHandle } from '../model/ir.ts';
import type { EngineHeap } from './heap.ts';

/**
 * A 16-bit source tensor (bf16 or fp16, as published) placed in the engine's heap as fp16,
 * read a piece at a time: neither the tensor nor the model is ever widened to fp32, so a
 * 1B-parameter bf16 checkpoint (2.2 GB) runs in the 4 GB wasm32 memory where its fp32 copy
 * (4.4 GB) would not. fp16 sources are copied bit for bit. bf16 has fp32's exponent range
 * and 8 significant bits, fp16 11 bits over 2^-24..65504, so every bf16 value of magnitude
 * 2^-14..65504 converts exactly; smaller ones round to fp16 subnormals (counted as `lossy`,
 * or `flushed` where they become zero), and a finite value above 65504 cannot be held: the
 * tensor is refused, naming it and the value, rather than silently clamped.
 */
export interface HalfConversion {
  /** Non-zero source values that became fp16 zeros. */
  flushed: number;
  /** Source values the conversion changed (subnormal rounding, flushes included). */
  lossy: number;
}

// Pieces of this many bytes are read and converted at once (a multiple of 2; the store's chunk size).
const PIECE_BYTES = 8 * 1024 * 1024;

// bf16 bits -> fp16 bits, by table: 65,536 entries (128 KiB), each floatToHalf's round-to-nearest-even result.
let bf16Table: Uint16Array | null = null;
function bf16ToHalfTable(): Uint16Array {
  if (!bf16Table) {
    bf16Table = new Uint16Array(65536);
    for (let b = 0; b < 65536; b++) bf16Table[b] = floatToHalf(bf16ToFloat(b));
  }
  return bf16Table;
}

const isF16Inf = (h: number) => (h & 0x7fff) === 0x7c00;
const isBf16Finite = (b: number) => (b & 0x7f80) !== 0x7f80;

/** True for the dtypes read as fp16 (the published 16-bit formats). */
export function isHalfSource(h: TensorHandle): boolean {
  return h.dtype === 'BF16' || h.dtype === 'F16';
}

/** Places 16-bit tensor `h` in a new heap block as fp16 [elements]; its address. Conversion counts go to `stats`. */
export async function placeHalfTensor(heap: EngineHeap, h: TensorHandle, elements: number, stats: HalfConversion): Promise<number> {
  const at = heap.alloc(elements * 2, h.name);
  const bytes = elements * 2;
  if (!h.readRange) {
    // A handle without raw bytes (e.g. an imported GGUF tensor) decodes to f32 once; its values came from 16 bits.
    const data = await h.read();
    convertF32(heap, h.name, data, at, 0, stats);
    return at;
  }
  for (let done = 0; done < bytes; done += PIECE_BYTES) {
    const length = Math.min(PIECE_BYTES, bytes - done);
    const piece = await h.readRange(done, length);
    if (piece.byteLength !== length) {
      throw new ShrinkrayError('bad_file', `tensor '${h.name}': read ${piece.byteLength} bytes at ${done}, expected ${length}`);
    }
    if (h.dtype === 'F16') heap.u8.set(piece, at + done);
    else convertBf16(heap, h.name, piece, at + done, done / 2, stats);
  }
  return at;
}

function convertBf16(heap: EngineHeap, name: string, piece: Uint8Array, to: number, first: number, stats: HalfConversion): void {
  const table = bf16ToHalfTable();
  const n = piece.byteLength >> 1;
  // Both views little-endian as stored: wasm memory is little-endian, and so is every platform a browser runs on.
  const src = piece.byteOffset % 2 === 0 ? new Uint16Array(piece.buffer, piece.byteOffset, n) : new Uint16Array(piece.slice().buffer);
  const dst = new Uint16Array(heap.memory.buffer, to, n);
  for (let i = 0; i < n; i++) {
    const b = src[i]!;
    const h = table[b]!;
    dst[i] = h;
    // Exact unless the exponent is outside fp16's normal range (bf16 exponent field 113..142 is exact).
    const e = (b >> 7) & 0xff;
    if (e < 113 || e > 142) {
      if (isF16Inf(h) && isBf16Finite(b)) overflow(name, bf16ToFloat(b), first + i);
      if (isBf16Finite(b) && halfToFloat(h) !== bf16ToFloat(b)) {
        stats.lossy++;
        if ((h & 0x7fff) === 0) stats.flushed++;
      }
    }
  }
}

function convertF32(heap: EngineHeap, name: string, data: Float32Array, to: number, first: number, stats: HalfConversion): void {
  const dst = new Uint16Array(heap.memory.buffer, to, data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    const h = floatToHalf(v);
    dst[i] = h;
    if (isF16Inf(h) && Number.isFinite(v)) overflow(name, v, first + i);
    if (Number.isFinite(v) && halfToFloat(h) !== v) {
      stats.lossy++;
      if ((h & 0x7fff) === 0) stats.flushed++;
    }
  }
}

function overflow(name: string, value: number, index: number): never {
  throw new ShrinkrayError(
    'bad_file',
    `tensor '${name}' holds ${value} at element ${index}, beyond fp16's range (±65504): the CPU engine keeps 16-bit weights as fp16 and cannot run it`,
  );
}

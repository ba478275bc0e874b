import type { EngineHeap } from './heap.ts';
import type { EngineWeight } from './weight-layout.ts';
import { halfToFloat } from '../kernels/half.ts';

/**
 * Every weight of a Llama-family decoder as the engine holds it: heap addresses of the
 * stored bytes (codes, scales, f32 or f16 values), plus f32 copies of the small vectors
 * (norm weights, which fp16 storage keeps as f16; they are dim floats each).
 */
export interface EngineLayer {
  attnNorm: number; // f32 [dim]
  ffnNorm: number; // f32 [dim]
  qNorm: number; // f32 [headDim], Qwen3's per-head query norm; 0 when the config has none
  kNorm: number; // f32 [headDim], per-head key norm; 0 when the config has none
  attnPostNorm: number; // f32 [dim], Gemma's norm of the attention output; 0 when the config has none
  ffnPostNorm: number; // f32 [dim], Gemma's norm of the MLP output; 0 when the config has none
  q: EngineLinear; // [heads*hd, dim], bias inside when the config has one
  k: EngineLinear; // [kvHeads*hd, dim]
  v: EngineLinear;
  o: EngineLinear; // [dim, heads*hd]
  gate: EngineLinear; // [ffn, dim]
  up: EngineLinear;
  down: EngineLinear; // [dim, ffn]
}

/** A linear layer stored as two products (lr recipes): x Aᵀ [T, rank] into acts.mid, then Bᵀ (the bias is B's). */
export interface LowRankRef {
  kind: 'lowrank';
  name: string;
  N: number;
  K: number;
  rank: number;
  a: EngineWeight; // [rank, K]
  b: EngineWeight; // [N, rank]
}

export type EngineLinear = EngineWeight | LowRankRef;

/** The stored weights a linear layer multiplies by: itself, or its two factors. */
export const factorsOf = (w: EngineLinear): EngineWeight[] => (w.kind === 'lowrank' ? [w.a, w.b] : [w]);

/** Every linear weight of the decoder blocks, factors included. */
export const blockWeights = (m: EngineModelWeights): EngineWeight[] =>
  m.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].flatMap(factorsOf));

/** The token embedding's table: dense rows, or MatMulNBits bytes read as GatherBlockQuantized does. */
export type EmbeddingTable =
  | { kind: 'dense'; dtype: 'f32' | 'f16'; data: number } // [vocab, dim]
  | { kind: 'nbits'; bits: 2 | 4 | 8; blockSize: number; codes: number; scales: number; zeroPoints: number; zpRow: number };

export interface EngineModelWeights {
  embedding: EmbeddingTable;
  layers: EngineLayer[];
  finalNorm: number; // f32 [dim]
  classifier: EngineWeight; // [vocab, dim]; a tied one reads the embedding's bytes
}

/** Where a tensor's bytes lie in the heap, and how they are stored. */
export interface HeapTensor {
  name: string;
  dtype: 'f32' | 'f16';
  at: number;
  length: number; // elements
}

/** An f32 copy of a small vector (f32 or f16 as stored) in a fresh heap block. */
export function vectorF32(heap: EngineHeap, t: HeapTensor): number {
  const at = heap.alloc(t.length * 4, t.name);
  const view = new DataView(heap.memory.buffer);
  const out = heap.f32;
  for (let i = 0; i < t.length; i++) {
    out[(at >>> 2) + i] = t.dtype === 'f32' ? view.getFloat32(t.at + 4 * i, true) : halfToFloat(view.getUint16(t.at + 2 * i, true));
  }
  return at;
}

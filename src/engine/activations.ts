import type { ModelConfig } from '../model/config.ts';
import type { EngineHeap } from './heap.ts';
import { blockWeights, type EngineModelWeights } from './model-weights.ts';
import type { EngineWeight } from './weight-layout.ts';

/**
 * Scratch for one forward chunk of up to `tokens` positions (a longer call runs in chunks
 * through the KV cache), allocated once per model. Quantized activations are sized for the
 * widest input any NBits weight takes.
 *   x, xn, o   f32 [tokens, dim]            residual stream, normed input, projection out
 *   q, att     f32 [tokens, heads*hd]       k, v f32 [tokens, kvHeads*hd]
 *   gate, up   f32 [tokens, ffn]            logits f32 [logitRows, vocab] (the classifier runs a few rows at a time)
 *   xq i8 [tokens, ldq]; xs f32, xsum i32 [tokens, ldb]; xs4, xsum4 [tokens/4, ldb, 4] (acts.ts)
 */
export interface Activations {
  tokens: number;
  actBytes: number; // bytes per quantized activation (EngineExports.actBytes)
  x: number;
  xn: number;
  o: number;
  q: number;
  k: number;
  v: number;
  att: number;
  gate: number;
  up: number;
  mid: number; // f32 [tokens, max rank]: x Aᵀ of a low-rank layer
  logits: number;
  logitRows: number;
  ids: number; // i32 [tokens]
  cos: number;
  sin: number; // f32 [tokens, hd/2]
  xq: number;
  xs: number;
  xsum: number;
  xs4: number;
  xsum4: number;
  quantTmp: number; // quantTmp: ldq + 64 bytes
  maxLdq: number;
  maxLdb: number;
  scratch: number;
  scratchStride: number; // attention: f32 [parts, scratchStride]: a part runs on one thread at a time
}

/** Rows of logits computed at a time: the 4-token tiles still apply, the scratch stays small. */
const LOGIT_ROWS = 8;

/**
 * Row strides of quantized activations for a weight: ldq in bytes (its blocks rounded up to
 * whole 16-byte chunks of codes, times actBytes: 1 for i8, 2 for the plain build's i16), ldb
 * in blocks (a multiple of 4).
 */
export function quantStrides(w: EngineWeight, actBytes: number): { ldq: number; ldb: number } {
  if (w.kind !== 'nbits') return { ldq: 0, ldb: 0 };
  const blocks = Math.ceil(w.K / w.blockSize);
  const perChunk = 128 / w.bits;
  const n = Math.ceil((blocks * w.blockSize) / perChunk) * perChunk;
  return { ldq: n * actBytes, ldb: Math.ceil(n / w.blockSize / 4) * 4 };
}

export function allocateActivations(
  heap: EngineHeap,
  c: ModelConfig,
  w: EngineModelWeights,
  tokens: number,
  parts: number,
  actBytes: number,
): Activations {
  const all = [...blockWeights(w), w.classifier];
  // Low-rank layers: the first product's output [tokens, rank] (the widest rank).
  const maxRank = Math.max(
    1,
    ...w.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]).map((x) => (x.kind === 'lowrank' ? x.rank : 0)),
  );
  const maxLdq = Math.max(16, ...all.map((x) => quantStrides(x, actBytes).ldq));
  const maxLdb = Math.max(4, ...all.map((x) => quantStrides(x, actBytes).ldb));
  const f = (n: number, what: string) => heap.alloc(tokens * n * 4, what);
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const wide = Math.max(c.hiddenSize, qDim);
  const groups = Math.ceil(tokens / 4);
  const scratchStride = c.maxPositionEmbeddings + 4;
  return {
    tokens,
    actBytes,
    maxLdq,
    maxLdb,
    scratchStride,
    x: f(c.hiddenSize, 'the residual stream'),
    xn: f(wide, 'normed activations'),
    o: f(c.hiddenSize, 'projection outputs'),
    q: f(qDim, 'queries'),
    k: f(kvDim, 'keys'),
    v: f(kvDim, 'values'),
    att: f(qDim, 'attention outputs'),
    gate: f(c.intermediateSize, 'the FFN gate'),
    up: f(c.intermediateSize, 'the FFN up projection'),
    mid: f(maxRank, 'low-rank intermediates'),
    logitRows: LOGIT_ROWS,
    logits: heap.alloc(LOGIT_ROWS * c.vocabSize * 4, 'logits'),
    ids: heap.alloc(tokens * 4, 'token ids'),
    cos: f(c.headDim / 2, 'RoPE cosines'),
    sin: f(c.headDim / 2, 'RoPE sines'),
    xq: heap.alloc(tokens * maxLdq, 'quantized activations'),
    xs: heap.alloc(tokens * maxLdb * 4, 'activation scales'),
    xsum: heap.alloc(tokens * maxLdb * 4, 'activation sums'),
    xs4: heap.alloc(groups * maxLdb * 16, 'activation scales (4-token tiles)'),
    xsum4: heap.alloc(groups * maxLdb * 16, 'activation sums (4-token tiles)'),
    quantTmp: heap.alloc(maxLdq + 64, 'quantization scratch'),
    scratch: heap.alloc(parts * scratchStride * 4, 'attention scores'),
  };
}

import { layerHasRope, rotaryDims, type ModelConfig } from '../model/config.ts';
import { attentionScale, layerRopeConfig, layerWindow } from '../model/layer-kinds.ts';
import { ATTENTION, TASK } from './task-layout.ts';
import { gemm, type PreparedWeight, type StepContext } from './gemm-step.ts';
import type { CpuState } from './kv-cache.ts';
import type { EmbeddingTable } from './model-weights.ts';
import { ropeRows } from './rope-table.ts';

/** The weights of one decoder layer, ready for the kernels. */
export interface PreparedLayer {
  attnNorm: number;
  ffnNorm: number;
  qNorm: number; // 0: none
  kNorm: number;
  attnPostNorm: number; // Gemma's output norms; 0: none
  ffnPostNorm: number;
  qkv: PreparedWeight[];
  o: PreparedWeight;
  gateUp: PreparedWeight[];
  down: PreparedWeight;
}

export interface PreparedModel {
  embedding: EmbeddingTable;
  layers: PreparedLayer[];
  finalNorm: number;
  classifier: PreparedWeight;
}

/**
 * One chunk of T <= acts.tokens new positions through the whole decoder, appending to the
 * state's KV cache at `start` (the caller reserved room and moves state.length once the whole
 * forward call is done): embed, then per layer RMSNorm -> q,k,v (-> per-head q/k RMSNorm) -> RoPE -> cache -> attention
 * -> o (-> RMSNorm, Gemma) (+ residual) -> RMSNorm -> gate, up, SwiGLU or GeGLU -> down (-> RMSNorm) (+ residual); then the final norm,
 * whose output [T, dim] is left in acts.xn for classify(). `between` runs after each layer
 * (the abort check). `callEnd`: the cache's length once the whole forward call (all its chunks)
 * is done, which picks LongRoPE's factors as transformers does for the call.
 */
export function forwardChunk(
  ctx: StepContext,
  c: ModelConfig,
  m: PreparedModel,
  s: CpuState,
  ids: readonly number[],
  start: number,
  callEnd: number,
  between: () => void,
): void {
  const e = ctx.exports;
  const a = ctx.acts;
  const T = ids.length;
  const dim = c.hiddenSize;
  const hd = c.headDim;
  const heap = ctx.runner.heap;
  heap.i32.set(ids, a.ids >>> 2);
  const emb = m.embedding;
  if (emb.kind === 'dense') e.embedDense(emb.data, emb.dtype === 'f16' ? 1 : 0, dim, a.ids, T, a.x);
  else e.embedNBits(emb.codes, emb.scales, emb.zeroPoints, emb.zpRow, emb.bits, emb.blockSize, dim, a.ids, T, a.x);
  const f32 = heap.f32;
  if (c.embeddingScale !== undefined) {
    // Gemma: times sqrt(hidden_size), an f32 product as the graph's Mul gives it.
    const s = Math.fround(c.embeddingScale);
    const x = f32.subarray(a.x >>> 2, (a.x >>> 2) + T * dim);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! * s;
  }
  const rot = rotaryDims(c);
  const half = rot / 2;
  // The rows in acts.cos/sin are one layer's RoPE; Gemma 3's sliding and full layers differ, so they are rewritten where the kind changes.
  let ropeOf: ModelConfig | null = null;
  const ropeFor = (rc: ModelConfig) => {
    if (rc === ropeOf) return;
    ropeRows(
      rc,
      start,
      T,
      f32.subarray(a.cos >>> 2, (a.cos >>> 2) + T * half),
      f32.subarray(a.sin >>> 2, (a.sin >>> 2) + T * half),
      callEnd,
    );
    ropeOf = rc;
  };
  const qDim = c.numHeads * hd;
  const kvDim = c.numKvHeads * hd;
  const scaleBits = new Int32Array(new Float32Array([attentionScale(c)]).buffer)[0]!;
  for (let l = 0; l < m.layers.length; l++) {
    const w = m.layers[l]!;
    if (layerHasRope(c, l)) ropeFor(layerRopeConfig(c, l));
    e.rmsNorm(a.x, w.attnNorm, T, dim, c.rmsNormEps, a.xn);
    gemm(ctx, w.qkv, a.xn, T, [a.q, a.k, a.v]);
    // Qwen3: every head's query and key RMS-normalised over its hd values (in place: rows of hd), before RoPE.
    if (w.qNorm) e.rmsNorm(a.q, w.qNorm, T * c.numHeads, hd, c.rmsNormEps, a.q);
    if (w.kNorm) e.rmsNorm(a.k, w.kNorm, T * c.numKvHeads, hd, c.rmsNormEps, a.k);
    if (layerHasRope(c, l) && rot === hd) {
      e.rope(a.q, T, qDim, c.numHeads, hd, a.cos, a.sin);
      e.rope(a.k, T, kvDim, c.numKvHeads, hd, a.cos, a.sin);
    } else if (layerHasRope(c, l)) {
      // Partial rotary: the kernel turns one head of `rot` values per call (rows still qDim / kvDim apart); the rest pass.
      for (let h = 0; h < c.numHeads; h++) e.rope(a.q + h * hd * 4, T, qDim, 1, rot, a.cos, a.sin);
      for (let h = 0; h < c.numKvHeads; h++) e.rope(a.k + h * hd * 4, T, kvDim, 1, rot, a.cos, a.sin);
    }
    e.storeKV(a.k, a.v, T, c.numKvHeads, hd, s.keys(l), s.values(l), s.capacity, start);
    const args = new Array<number>(14).fill(0);
    args[ATTENTION.q] = a.q;
    args[ATTENTION.T] = T;
    args[ATTENTION.start] = start;
    args[ATTENTION.heads] = c.numHeads;
    args[ATTENTION.kvHeads] = c.numKvHeads;
    args[ATTENTION.hd] = hd;
    args[ATTENTION.keys] = s.keys(l);
    args[ATTENTION.values] = s.values(l);
    args[ATTENTION.cap] = s.capacity;
    args[ATTENTION.out] = a.att;
    args[ATTENTION.scale] = scaleBits;
    args[ATTENTION.scratch] = a.scratch;
    args[ATTENTION.scratchStride] = a.scratchStride;
    args[ATTENTION.window] = layerWindow(c, l) ?? 0; // the cache keeps every position; attention reads the last window of them
    ctx.runner.run(TASK.opAttention, args);
    gemm(ctx, [w.o], a.att, T, [a.o]);
    if (w.attnPostNorm) e.rmsNorm(a.o, w.attnPostNorm, T, dim, c.rmsNormEps, a.o);
    e.addInPlace(a.x, a.o, T * dim);
    e.rmsNorm(a.x, w.ffnNorm, T, dim, c.rmsNormEps, a.xn);
    if (c.hiddenAct === 'gelu_tanh') {
      gemm(ctx, w.gateUp, a.xn, T, [a.gate, a.up]);
      e.geluTanhMul(a.gate, a.up, T, c.intermediateSize, 0, c.intermediateSize);
    } else gemm(ctx, w.gateUp, a.xn, T, [a.gate, a.up], true);
    gemm(ctx, [w.down], a.gate, T, [a.o]);
    if (w.ffnPostNorm) e.rmsNorm(a.o, w.ffnPostNorm, T, dim, c.rmsNormEps, a.o);
    e.addInPlace(a.x, a.o, T * dim);
    between();
  }
  e.rmsNorm(a.x, m.finalNorm, T, dim, c.rmsNormEps, a.xn);
}

/**
 * Logits [rows, vocab] into acts.logits for rows [t0, t0 + rows) of the final norm's output
 * (rows <= acts.logitRows): the classifier runs a few rows at a time, so its output scratch
 * stays small even for a large vocabulary.
 */
export function classify(ctx: StepContext, c: ModelConfig, m: PreparedModel, t0: number, rows: number): void {
  const a = ctx.acts;
  gemm(ctx, [m.classifier], a.xn + t0 * c.hiddenSize * 4, rows, [a.logits]);
}

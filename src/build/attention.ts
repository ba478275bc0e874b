import type { GraphBuilder } from '../formats/onnx/graph-builder.ts';
import { DECODER_INITIALIZERS as INIT, DECODER_NODES as N } from '../formats/onnx/decoder-names.ts';
import { attr, OnnxDataType } from '../formats/onnx/onnx-proto.ts';
import { type ModelConfig } from '../model/config.ts';
import { attentionScale, isSlidingLayer } from '../model/layer-kinds.ts';
import { ropeInverseFrequencies } from '../model/rope-frequencies.ts';
import { usesGatheredRope } from './gathered-rope.ts';

/**
 * Grouped-query attention with rotate-half RoPE and a KV cache, in plain ONNX ops (opset 17).
 * Queries are laid out [batch, kvHeads, group, seq, headDim] so one broadcasting MatMul
 * pairs every query head with its shared KV head: no Expand of the cache is needed.
 */

/**
 * Emits one layer's attention; q: [B, S, H*hd], k/v: [B, S, kvH*hd]; past: [B, kvH, P, hd].
 * `rotate`: whether the attention applies RoPE itself (false for a NoPE layer, or when q and k
 * were turned before it: gathered-rope.ts).
 */
export type AttentionEmitter = (
  layer: number,
  q: string,
  k: string,
  v: string,
  pastKey: string,
  pastValue: string,
  presentKey: string,
  presentValue: string,
  rotate: boolean,
) => AttentionOutputs;

interface RopeValues {
  cosQ: string; // [batch, 1, 1, seq, headDim]
  sinQ: string; // same, with the first half negated (folds rotate-half's sign)
  cosK: string; // [batch, 1, seq, headDim]
  sinK: string;
}

/** Values computed once per forward pass and shared by every layer. */
interface AttentionContext {
  /** Absent when no layer rotates inside the attention (q and k turned before it). */
  rope?: RopeValues;
  maskBias: string; // [batch, 1, 1, seq, total]: 0 where attending is allowed, float min elsewhere
  /** Gemma 3's sliding layers' mask (their window); maskBias is then the full layers'. Gemma turns q and k before (computed-rope.ts). */
  localMaskBias?: string;
}

/** RoPE tables in float64 then rounded once, as the reference does: [maxPos, headDim]. */
export function ropeTables(
  c: ModelConfig,
  maxPos: number,
): { cos: Float32Array; sin: Float32Array; cosHalf: Float32Array; sinHalf: Float32Array } {
  const hd = c.headDim;
  const half = hd / 2;
  const cos = new Float32Array(maxPos * hd); // [maxPos, headDim], halves duplicated
  const sin = new Float32Array(maxPos * hd); // [maxPos, headDim], first half negated
  const cosHalf = new Float32Array(maxPos * half); // [maxPos, headDim/2], GroupQueryAttention's layout
  const sinHalf = new Float32Array(maxPos * half);
  const invFreq = ropeInverseFrequencies(c); // [headDim/2], rescaled for Llama 3's rope_scaling
  for (let i = 0; i < half; i++) {
    for (let p = 0; p < maxPos; p++) {
      const a = p * invFreq[i]!;
      const ca = Math.cos(a);
      const sa = Math.sin(a);
      cos[p * hd + i] = ca;
      cos[p * hd + half + i] = ca;
      sin[p * hd + i] = -sa;
      sin[p * hd + half + i] = sa;
      cosHalf[p * half + i] = ca;
      sinHalf[p * half + i] = sa;
    }
  }
  return { cos, sin, cosHalf, sinHalf };
}

/** Plain-op attention: shared RoPE and mask values once, then one emitter call per layer. */
export function plainAttention(
  g: GraphBuilder,
  c: ModelConfig,
  positionIds: string,
  attentionMask: string,
  inputIds: string,
): AttentionEmitter {
  const ctx = emitAttentionContext(g, c, positionIds, attentionMask, inputIds);
  return (layer, q, k, v, pastKey, pastValue, presentKey, presentValue, rotate) =>
    emitPlainAttention(g, c, ctx, layer, q, k, v, pastKey, pastValue, presentKey, presentValue, rotate);
}

function emitAttentionContext(
  g: GraphBuilder,
  c: ModelConfig,
  positionIds: string,
  attentionMask: string,
  inputIds: string,
): AttentionContext {
  if (c.slidingLayers !== undefined) {
    // Gemma 3: the full layers see every position, the sliding ones their window.
    return {
      maskBias: emitMaskBias(g, attentionMask, inputIds, undefined),
      localMaskBias: emitMaskBias(g, attentionMask, inputIds, c.slidingWindow, N.maskBiasLocal),
    };
  }
  if (usesGatheredRope(c)) return { maskBias: emitMaskBias(g, attentionMask, inputIds, c.slidingWindow) };
  const rope = emitRopeValues(g, c, positionIds, INIT.ropeCos, INIT.ropeSin);
  return { rope, maskBias: emitMaskBias(g, attentionMask, inputIds, c.slidingWindow) };
}

/** The pass's cos and sin, gathered at position_ids from tables [maxPos, headDim] named `cosName`, `sinName`. */
function emitRopeValues(g: GraphBuilder, c: ModelConfig, positionIds: string, cosName: string, sinName: string): RopeValues {
  const maxPos = c.maxPositionEmbeddings;
  const t = ropeTables(c, maxPos);
  const cos = g.op('Gather', [g.float32(cosName, t.cos, [maxPos, c.headDim]), positionIds], { name: cosName }); // [B, S, hd]
  const sin = g.op('Gather', [g.float32(sinName, t.sin, [maxPos, c.headDim]), positionIds], { name: sinName });
  const axes12 = g.int64('axes_1_2', [1, 2]);
  const axes1 = g.int64('axes_1', [1]);
  return {
    cosQ: g.op('Unsqueeze', [cos, axes12]),
    sinQ: g.op('Unsqueeze', [sin, axes12]),
    cosK: g.op('Unsqueeze', [cos, axes1]),
    sinK: g.op('Unsqueeze', [sin, axes1]),
  };
}

/** Causal mask (within the sliding window, when there is one) combined with the padding mask, as an additive bias. */
function emitMaskBias(
  g: GraphBuilder,
  attentionMask: string,
  inputIds: string,
  window: number | undefined,
  name: string = N.maskBias,
): string {
  const sh = (x: string, start: number) => g.op('Shape', [x], { attrs: { start: attr.int(start), end: attr.int(start + 1) } });
  const scalar = (x: string) => g.op('Squeeze', [x, g.int64('axes_0', [0])]);
  const total = scalar(sh(attentionMask, 1)); // T = past + seq
  const seq = scalar(sh(inputIds, 1)); // S
  const past = g.op('Sub', [total, seq]);
  const zero = g.int64('zero', [0], []);
  const one = g.int64('one', [1], []);
  const keyPos = g.op('Unsqueeze', [g.op('Range', [zero, total, one]), g.int64('axes_0', [0])]); // [1, T]
  const queryPos = g.op('Unsqueeze', [g.op('Range', [past, total, one]), g.int64('axes_1', [1])]); // [S, 1]
  let causal = g.op('LessOrEqual', [keyPos, queryPos]); // [S, T]
  // Sliding window W: query position p sees keys p - W + 1 .. p (transformers' sliding_window_overlay).
  if (window !== undefined) {
    const oldest = g.op('Sub', [queryPos, g.int64('window_reach', [window - 1], [])]); // [S, 1]
    causal = g.op('And', [causal, g.op('LessOrEqual', [oldest, keyPos], { name: N.maskWindow })]);
  }
  const padOk = g.op('Unsqueeze', [
    g.op('Cast', [attentionMask], { attrs: { to: attr.int(OnnxDataType.BOOL) } }),
    g.int64('axes_1_2_3', [1, 2, 3]),
  ]); // [B, 1, 1, 1, T]
  const allowed = g.op('And', [causal, padOk]); // [B, 1, 1, S, T]
  // float32 min rather than -inf: a fully masked row (a padding query) stays finite.
  const blocked = g.scalar('mask_min', -3.4028234663852886e38);
  const open = g.scalar('zero_f32', 0);
  return g.op('Where', [allowed, open, blocked], { name });
}

/** x*cos + concat(x2, x1)*sinSigned, along the last axis. */
function rope(g: GraphBuilder, x: string, cos: string, sin: string, headDim: number, name: string): string {
  const half = headDim / 2;
  const axis = g.int64('axis_last', [-1]);
  const x1 = g.op('Slice', [x, g.int64('zero_1d', [0]), g.int64('half', [half]), axis]);
  const x2 = g.op('Slice', [x, g.int64('half', [half]), g.int64('head_dim', [headDim]), axis]);
  const swapped = g.op('Concat', [x2, x1], { attrs: { axis: attr.int(-1) } });
  return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [swapped, sin])], { name });
}

export interface AttentionOutputs {
  context: string; // [batch, seq, heads*headDim], before o_proj
  presentKey: string; // [batch, kvHeads, total, headDim]
  presentValue: string;
}

function emitPlainAttention(
  g: GraphBuilder,
  c: ModelConfig,
  ctx: AttentionContext,
  layer: number,
  q: string,
  k: string,
  v: string,
  pastKey: string,
  pastValue: string,
  presentKey: string,
  presentValue: string,
  rotate: boolean,
): AttentionOutputs {
  const hd = c.headDim;
  const kvH = c.numKvHeads;
  const group = c.numHeads / kvH;
  const p = N.attention(layer);
  const qh = g.op('Transpose', [g.op('Reshape', [q, g.int64(`q_shape`, [0, 0, kvH, group, hd])])], {
    attrs: { perm: attr.ints([0, 2, 3, 1, 4]) },
  }); // [B, kvH, G, S, hd]
  const toHeads = (x: string) =>
    g.op('Transpose', [g.op('Reshape', [x, g.int64('kv_shape', [0, 0, kvH, hd])])], { attrs: { perm: attr.ints([0, 2, 1, 3]) } }); // [B, kvH, S, hd]
  const r = rotate ? ctx.rope : undefined;
  const qr = r ? rope(g, qh, r.cosQ, r.sinQ, hd, `${p}.q_rot`) : qh;
  const kr = r ? rope(g, toHeads(k), r.cosK, r.sinK, hd, `${p}.k_rot`) : toHeads(k);
  g.node('Concat', [pastKey, kr], { outputs: [presentKey], attrs: { axis: attr.int(2) } }); // [B, kvH, T, hd]
  g.node('Concat', [pastValue, toHeads(v)], { outputs: [presentValue], attrs: { axis: attr.int(2) } });

  const kT = g.op('Unsqueeze', [g.op('Transpose', [presentKey], { attrs: { perm: attr.ints([0, 1, 3, 2]) } }), g.int64('axes_2', [2])]); // [B, kvH, 1, hd, T]
  const scale = g.scalar(INIT.attnScale, attentionScale(c));
  const scores = g.op('Add', [
    g.op('Mul', [g.op('MatMul', [qr, kT]), scale]),
    ctx.localMaskBias && isSlidingLayer(c, layer) ? ctx.localMaskBias : ctx.maskBias,
  ]); // [B, kvH, G, S, T]
  const probs = g.op('Softmax', [scores], { attrs: { axis: attr.int(-1) }, name: N.softmax(layer) });
  const vU = g.op('Unsqueeze', [presentValue, g.int64('axes_2', [2])]); // [B, kvH, 1, T, hd]
  const out = g.op('MatMul', [probs, vU]); // [B, kvH, G, S, hd]
  const merged = g.op(
    'Reshape',
    [
      g.op('Transpose', [out], { attrs: { perm: attr.ints([0, 3, 1, 2, 4]) } }), // [B, S, kvH, G, hd]
      g.int64('merge_shape', [0, 0, c.numHeads * hd]),
    ],
    { name: `${p}.context` },
  );
  return { context: merged, presentKey, presentValue };
}

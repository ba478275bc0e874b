import type { GraphBuilder } from '../formats/onnx/graph-builder.ts';
import { DECODER_INITIALIZERS as INIT } from '../formats/onnx/decoder-names.ts';
import { attr, OnnxDataType } from '../formats/onnx/onnx-proto.ts';
import { rotaryDims, type ModelConfig } from '../model/config.ts';
import { gatheredRopeRows, ropeAttentionScale, ropeInverseFrequencies } from '../model/rope-frequencies.ts';

export { gatheredRopeRows, usesGatheredRope } from '../model/rope-frequencies.ts';

/*
 * RoPE as plain ops on q and k before the attention op, for the configs whose RoPE the fused
 * GroupQueryAttention cannot express and the plain attention's full-head tables do not hold:
 * LongRoPE (Phi-3.5/Phi-4-mini: two sets of factors, switched per pass by its total length, and
 * cos/sin scaled by the attention factor) and partial rotary (Phi-4-mini turns 96 of 128 values).
 * One table pair holds the angles' cos and sin [rows, rotary/2]: rows 0..short-1 the positions
 * with the short factors, then (when the switch can happen inside the context) rows short + p
 * position p with the long factors. A pass whose attention_mask is longer than
 * original_max_position_embeddings gathers at position_ids + short, as transformers switches on
 * max(position_ids) + 1: the cached keys keep the rotation they were stored with.
 */

/** The tables [shortRows + longRows, rotary/2], computed in float64 and rounded once. */
export function gatheredRopeTables(c: ModelConfig): { cos: Float32Array; sin: Float32Array; rows: number; half: number } {
  const half = rotaryDims(c) / 2;
  const { shortRows, longRows, switchAt } = gatheredRopeRows(c);
  const rows = shortRows + longRows;
  const cos = new Float32Array(rows * half);
  const sin = new Float32Array(rows * half);
  const scale = ropeAttentionScale(c);
  const fill = (first: number, count: number, invFreq: Float64Array) => {
    for (let p = 0; p < count; p++) {
      for (let i = 0; i < half; i++) {
        const a = p * invFreq[i]!;
        cos[(first + p) * half + i] = scale === 1 ? Math.cos(a) : Math.cos(a) * scale;
        sin[(first + p) * half + i] = scale === 1 ? Math.sin(a) : Math.sin(a) * scale;
      }
    }
  };
  fill(0, shortRows, ropeInverseFrequencies(c, switchAt));
  if (longRows) fill(shortRows, longRows, ropeInverseFrequencies(c, switchAt + 1));
  return { cos, sin, rows, half };
}

/** Turns q or k [B, S, heads * headDim] (returns the same shape). */
export type GatheredRope = (x: string, heads: number, name: string) => string;

/** Emits the pass's cos and sin once ([B, S, 1, rotary/2]); the returned function rotates one projection's heads. */
export function emitGatheredRope(g: GraphBuilder, c: ModelConfig, positionIds: string, attentionMask: string): GatheredRope {
  const t = gatheredRopeTables(c);
  const { shortRows, longRows, switchAt } = gatheredRopeRows(c);
  let rows = positionIds; // [B, S]
  if (longRows) {
    const total = g.op('Shape', [attentionMask], { attrs: { start: attr.int(1), end: attr.int(2) } }); // [1]
    const long = g.op('Cast', [g.op('Greater', [total, g.int64('rope_switch_at', [switchAt])])], {
      attrs: { to: attr.int(OnnxDataType.INT64) },
    });
    rows = g.op('Add', [positionIds, g.op('Mul', [long, g.int64('rope_long_rows', [shortRows])])], { name: 'rope_rows' });
  }
  const axes2 = g.int64('axes_2', [2]);
  const cos = g.op('Unsqueeze', [g.op('Gather', [g.float32(INIT.ropeCosRows, t.cos, [t.rows, t.half]), rows]), axes2]); // [B, S, 1, half]
  const sin = g.op('Unsqueeze', [g.op('Gather', [g.float32(INIT.ropeSinRows, t.sin, [t.rows, t.half]), rows]), axes2]);
  return (x, heads, name) => rotateHeads(g, c, x, heads, name, cos, sin, t.half);
}

/** Turns the first 2·half values of each head of x [B, S, heads * headDim] by cos, sin [B, S, 1, half] (rotate-half); the rest pass. */
export function rotateHeads(
  g: GraphBuilder,
  c: ModelConfig,
  x: string,
  heads: number,
  name: string,
  cos: string,
  sin: string,
  half: number,
): string {
  const hd = c.headDim;
  const rot = 2 * half;
  const axis = g.int64('axis_last', [-1]);
  const slice = (x: string, from: number, to: number) => g.op('Slice', [x, g.int64(`at_${from}`, [from]), g.int64(`at_${to}`, [to]), axis]);
  const xh = g.op('Reshape', [x, g.int64(`heads_shape_${heads}`, [0, 0, heads, hd])]); // [B, S, heads, hd]
  const x1 = slice(xh, 0, half);
  const x2 = slice(xh, half, rot);
  const r1 = g.op('Sub', [g.op('Mul', [x1, cos]), g.op('Mul', [x2, sin])]);
  const r2 = g.op('Add', [g.op('Mul', [x2, cos]), g.op('Mul', [x1, sin])]);
  const parts = rot < hd ? [r1, r2, slice(xh, rot, hd)] : [r1, r2]; // the values past the rotary dims pass
  const turned = g.op('Concat', parts, { attrs: { axis: attr.int(-1) } });
  return g.op('Reshape', [turned, g.int64(`merged_shape_${heads}`, [0, 0, heads * hd])], { name });
}

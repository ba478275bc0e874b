import type { GraphBuilder } from '../formats/onnx/graph-builder.ts';
import { DECODER_INITIALIZERS as INIT } from '../formats/onnx/decoder-names.ts';
import { attr, OnnxDataType } from '../formats/onnx/onnx-proto.ts';
import { type ModelConfig } from '../model/config.ts';
import { isSlidingLayer, layerRopeConfig } from '../model/layer-kinds.ts';
import { ropeInverseFrequencies } from '../model/rope-frequencies.ts';
import { rotateHeads, type GatheredRope } from './gathered-rope.ts';

export { usesComputedRope } from '../model/rope-frequencies.ts';

/*
 * RoPE computed in the graph from position_ids, for Gemma 3: its head_dim 256 and 32K context
 * would make stored tables [32768, 256] per base and per sin/cos (134 MB in the plain graph, 67 MB
 * in GroupQueryAttention's layout, for two bases), most of a 270M model compressed. Instead each
 * pass computes angle = position · inverse frequency in fp32 (as transformers does), its cos and
 * sin, and turns q and k before the attention op (which then turns nothing). Only the inverse
 * frequencies are stored: [headDim/2] per base.
 */

/** The pass's cos and sin per RoPE base ([B, S, 1, headDim/2]); the returned function gives layer l's rotation of q or k. */
export function emitComputedRope(g: GraphBuilder, c: ModelConfig, positionIds: string): (layer: number) => GatheredRope {
  const pos = g.op('Unsqueeze', [g.op('Cast', [positionIds], { attrs: { to: attr.int(OnnxDataType.FLOAT) } }), g.int64('axes_last', [-1])]); // [B, S, 1]
  const tables = (rc: ModelConfig, name: string) => {
    const inv = Float32Array.from(ropeInverseFrequencies(rc)); // [headDim/2], rounded once from float64
    const angles = g.op('Mul', [pos, g.float32(name, inv, [inv.length])]); // [B, S, half], fp32 products as transformers'
    const axes2 = g.int64('axes_2', [2]);
    return {
      cos: g.op('Unsqueeze', [g.op('Cos', [angles]), axes2]), // [B, S, 1, half]
      sin: g.op('Unsqueeze', [g.op('Sin', [angles]), axes2]),
    };
  };
  const global = tables(c, INIT.ropeInvFreq);
  const sliding = c.slidingLayers?.[0];
  const local = sliding !== undefined && c.ropeLocalTheta !== undefined ? tables(layerRopeConfig(c, sliding), INIT.ropeInvFreqLocal) : null;
  const half = c.headDim / 2;
  return (layer) => {
    const t = local && isSlidingLayer(c, layer) ? local : global;
    return (x, heads, name) => rotateHeads(g, c, x, heads, name, t.cos, t.sin, half);
  };
}

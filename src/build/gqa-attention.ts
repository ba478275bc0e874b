import type { GraphBuilder } from '../formats/onnx/graph-builder.ts';
import { DECODER_INITIALIZERS as INIT, DECODER_NODES as N } from '../formats/onnx/decoder-names.ts';
import { attr, OnnxDataType } from '../formats/onnx/onnx-proto.ts';
import { ropeTables } from './attention.ts';
import { usesGatheredRope } from './gathered-rope.ts';
import type { AttentionEmitter, AttentionOutputs } from './attention.ts';
import { type ModelConfig } from '../model/config.ts';
import { attentionScale, gqaLocalWindow } from '../model/layer-kinds.ts';
import { usesComputedRope } from '../model/rope-frequencies.ts';

/**
 * Attention through com.microsoft.GroupQueryAttention, the fused op onnxruntime-web
 * accelerates on wasm and webgpu: RoPE (rotate-half), the KV-cache append, the causal mask
 * and grouped heads in one node. It reads the sequence lengths from the attention mask,
 * so it assumes right-padded (or unpadded) batches, as onnxruntime-genai models do.
 */
interface GqaContext {
  seqlensK: string; // [batch] int32: valid tokens per row minus one
  totalLength: string; // scalar int32: attention_mask's width
  /** Absent when q and k are turned before the op (gathered-rope.ts). */
  caches?: { cos: string; sin: string }; // [maxPos, headDim/2]
}

/** GroupQueryAttention: shared lengths and RoPE caches once, then one node per layer. */
export function gqaAttention(g: GraphBuilder, c: ModelConfig, attentionMask: string): AttentionEmitter {
  const ctx = emitGqaContext(g, c, attentionMask);
  return (layer, q, k, v, pastKey, pastValue, presentKey, presentValue, rotate) =>
    emitGqaAttention(g, c, ctx, layer, q, k, v, pastKey, pastValue, presentKey, presentValue, rotate);
}

function emitGqaContext(g: GraphBuilder, c: ModelConfig, attentionMask: string): GqaContext {
  const toInt32 = { attrs: { to: attr.int(OnnxDataType.INT32) } };
  const valid = g.op('ReduceSum', [attentionMask, g.int64('axes_1', [1])], { attrs: { keepdims: attr.int(0) } }); // [B]
  const seqlensK = g.op('Cast', [g.op('Sub', [valid, g.int64('one', [1], [])])], { ...toInt32, name: 'seqlens_k' });
  const width = g.op('Shape', [attentionMask], { attrs: { start: attr.int(1), end: attr.int(2) } }); // [1]
  const totalLength = g.op('Cast', [g.op('Squeeze', [width, g.int64('axes_0', [0])])], { ...toInt32, name: 'total_seq_len' });
  if (usesGatheredRope(c) || usesComputedRope(c)) return { seqlensK, totalLength };
  const maxPos = c.maxPositionEmbeddings;
  const t = ropeTables(c, maxPos);
  return {
    seqlensK,
    totalLength,
    caches: {
      cos: g.float32(INIT.ropeCosCache, t.cosHalf, [maxPos, c.headDim / 2]),
      sin: g.float32(INIT.ropeSinCache, t.sinHalf, [maxPos, c.headDim / 2]),
    },
  };
}

/** q: [B, S, H*hd], k/v: [B, S, kvH*hd]; past: [B, kvH, P, hd]. */
function emitGqaAttention(
  g: GraphBuilder,
  c: ModelConfig,
  ctx: GqaContext,
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
  const name = N.gqa(layer);
  const caches = ctx.caches ? [ctx.caches.cos, ctx.caches.sin] : []; // GroupQueryAttention's optional last inputs
  const [context] = g.node('GroupQueryAttention', [q, k, v, pastKey, pastValue, ctx.seqlensK, ctx.totalLength, ...caches], {
    domain: 'com.microsoft',
    name,
    outputs: [`${name}.context`, presentKey, presentValue],
    attrs: {
      num_heads: attr.int(c.numHeads),
      kv_num_heads: attr.int(c.numKvHeads),
      do_rotary: attr.int(rotate ? 1 : 0),
      rotary_interleaved: attr.int(0),
      scale: attr.float(attentionScale(c)),
      local_window_size: attr.int(gqaLocalWindow(c, layer)),
    },
  });
  return { context: context!, presentKey, presentValue };
}

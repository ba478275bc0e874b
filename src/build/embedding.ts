import { ShrinkrayError } from '../errors.ts';
import type { GraphBuilder } from '../formats/onnx/graph-builder.ts';
import { DECODER_NODES as N, weightInitializer } from '../formats/onnx/decoder-names.ts';
import { attr } from '../formats/onnx/onnx-proto.ts';
import { addNBitsInitializers, emitMatMulNBits, weightValue } from './linear.ts';
import type { LinearWeight } from './linear-weight.ts';

/**
 * The token embedding, dense or block-quantized, and the classifier that shares it when the
 * weights are tied. A quantized table is stored once, in MatMulNBits layout: the lookup reads
 * it through com.microsoft.GatherBlockQuantized (which takes the same packing, viewed as
 * [vocab, dim*bits/8]), the tied classifier through MatMulNBits.
 */
export interface EmbeddingOps {
  embedded: string; // [B, S, dim]
  tiedClassifier(x: string): string; // [B, S', dim] -> [B, S', vocab]
}

export function emitEmbedding(g: GraphBuilder, name: string, w: LinearWeight, inputIds: string): EmbeddingOps {
  const vocab = w.outFeatures,
    dim = w.inFeatures;
  if (w.kind === 'dense') {
    const table = weightValue(g, name, w.weight, [vocab, dim], w.storage); // [vocab, dim]
    return {
      embedded: g.op('Gather', [table, inputIds], { name: N.embed }),
      tiedClassifier: (x) => {
        // Gemm with transB reads the [vocab, dim] table in place: no second copy on disk.
        const flat = g.op('Reshape', [x, g.int64('flat_shape', [-1, dim])]); // [B*S', dim]
        const logits2d = g.op('Gemm', [flat, table], { attrs: { transB: attr.int(1) }, name: N.tiedClassifier }); // [B*S', vocab]
        const outShape = g.op('Concat', [g.op('Shape', [x], { attrs: { end: attr.int(2) } }), g.int64('vocab', [vocab])], {
          attrs: { axis: attr.int(0) },
        });
        return g.op('Reshape', [logits2d, outShape]);
      },
    };
  }
  if (w.kind === 'lowrank') throw new ShrinkrayError('bad_recipe', `${name}: the embedding table cannot be stored as low-rank factors`);
  if (dim % w.blockSize !== 0) {
    // GatherBlockQuantized has no padded blocks: its rows must be whole blocks.
    throw new ShrinkrayError('bad_recipe', `${name}: embedding width ${dim} is not a multiple of the block size ${w.blockSize}`);
  }
  const inits = addNBitsInitializers(g, name, w);
  const blocks = dim / w.blockSize;
  const rows = (value: string, width: number, label: string) => g.op('Reshape', [value, g.int64(`${label}_rows_shape`, [vocab, width])]);
  const inputs = [
    rows(inits.qweight, (dim * w.bits) / 8, weightInitializer.qweight(name)), // uint8 [vocab, dim*bits/8]
    inputIds,
    rows(inits.scales, blocks, weightInitializer.scales(name)), // [vocab, dim/block]
    ...(inits.zeroPoints ? [rows(inits.zeroPoints, Math.ceil((blocks * w.bits) / 8), weightInitializer.zeroPoints(name))] : []),
  ];
  return {
    embedded: g.op('GatherBlockQuantized', inputs, {
      domain: 'com.microsoft',
      name: N.embed,
      attrs: { gather_axis: attr.int(0), quantize_axis: attr.int(1), block_size: attr.int(w.blockSize), bits: attr.int(w.bits) },
    }),
    tiedClassifier: (x) => emitMatMulNBits(g, x, N.tiedClassifier, w, inits),
  };
}

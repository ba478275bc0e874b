import { ShrinkrayError } from '../errors.ts';
import { floatToHalf } from '../kernels/half.ts';
import { bytesOf, type GraphBuilder } from '../formats/onnx/graph-builder.ts';
import { DECODER_NODES, weightInitializer as W } from '../formats/onnx/decoder-names.ts';
import { attr, OnnxDataType } from '../formats/onnx/onnx-proto.ts';
import type { LinearWeight, NBitsWeight } from './linear-weight.ts';
import { emitDequantizedWeight, emitDynamicQuantizeMatMul, type QuantizedMatMul } from './quant-paths.ts';

/** Bytes a weight occupies in the model file (emitted as `quantized` says). */
export function linearWeightBytes(w: LinearWeight, quantized: QuantizedMatMul = 'matmulnbits'): number {
  if (w.kind === 'lowrank') return linearWeightBytes(w.a, quantized) + linearWeightBytes(w.b, quantized);
  if (w.kind === 'dense') return w.weight.length * (w.storage === 'fp16' ? 2 : 4);
  if (quantized === 'matmulinteger') return w.outFeatures * w.inFeatures + 4 * w.outFeatures; // int8 [K, N] + scales [N]
  return w.packed.byteLength + w.scales.byteLength + (w.zeroPoints?.byteLength ?? 0);
}

/** [out, in] -> [in, out], the layout MatMul(x, W) wants. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  }
  return t;
}

export function toHalfBytes(values: Float32Array): Uint8Array {
  const h = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) h[i] = floatToHalf(values[i]!);
  return bytesOf(h);
}

/**
 * A weight tensor as an fp32 value of the graph: fp32 initializers directly, fp16 through
 * a Cast (ORT's constant folding widens it once at session creation).
 */
export function weightValue(g: GraphBuilder, name: string, data: Float32Array, dims: number[], storage: 'fp32' | 'fp16'): string {
  if (storage === 'fp32') return g.float32(name, data, dims);
  const half = g.addInitializer(W.fp16(name), OnnxDataType.FLOAT16, dims, toHalfBytes(data));
  return g.op('Cast', [half], { attrs: { to: attr.int(OnnxDataType.FLOAT) }, name });
}

/** y = x W^T (+ bias), NBits weights multiplied as `quantized` says. x: [..., in] -> [..., out] */
export function emitLinear(
  g: GraphBuilder,
  x: string,
  name: string,
  w: LinearWeight,
  bias?: Float32Array,
  quantized: QuantizedMatMul = 'matmulnbits',
): string {
  let y: string;
  if (w.kind === 'lowrank') {
    // Two products: [..., K] -> [..., r] -> [..., N]; the second carries the layer's name (and its bias).
    y = emitLinear(g, emitLinear(g, x, DECODER_NODES.lowRankFirst(name), w.a, undefined, quantized), name, w.b, undefined, quantized);
  } else if (w.kind === 'dense') {
    if (w.weight.length !== w.outFeatures * w.inFeatures) {
      throw new ShrinkrayError(
        'bad_argument',
        `${name}: dense weight has ${w.weight.length} values, expected ${w.outFeatures}x${w.inFeatures}`,
      );
    }
    const t = weightValue(
      g,
      W.transposed(name),
      transpose(w.weight, w.outFeatures, w.inFeatures),
      [w.inFeatures, w.outFeatures],
      w.storage,
    );
    y = g.op('MatMul', [x, t], { name });
  } else if (quantized === 'dequantize-at-load') {
    y = g.op('MatMul', [x, emitDequantizedWeight(g, name, w)], { name });
  } else if (quantized === 'matmulinteger') {
    y = emitDynamicQuantizeMatMul(g, x, name, w);
  } else {
    y = emitMatMulNBits(g, x, name, w);
  }
  if (!bias) return y;
  return g.op('Add', [y, g.float32(W.bias(name), bias, [bias.length])], { name: `${name}.bias_add` });
}

/** The initializers of an NBits weight, as MatMulNBits takes them (shared with GatherBlockQuantized). */
export interface NBitsInitializers {
  qweight: string; // uint8 [N, kBlocks, blockSize*bits/8]
  scales: string; // float [N * kBlocks]
  zeroPoints: string | null; // uint8 [N * ceil(kBlocks*bits/8)]
}

export function addNBitsInitializers(g: GraphBuilder, name: string, w: NBitsWeight): NBitsInitializers {
  const { bits, blockSize, outFeatures: N, inFeatures: K } = w;
  const blocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  if (w.packed.byteLength !== N * blocks * blob || w.scales.length !== N * blocks) {
    throw new ShrinkrayError(
      'bad_argument',
      `${name}: MatMulNBits expects packed [${N}, ${blocks}, ${blob}] and scales [${N * blocks}], got ${w.packed.byteLength} bytes and ${w.scales.length} scales`,
    );
  }
  return {
    qweight: g.addInitializer(W.qweight(name), OnnxDataType.UINT8, [N, blocks, blob], w.packed),
    scales: g.float32(W.scales(name), w.scales, [N * blocks]),
    zeroPoints: w.zeroPoints
      ? g.addInitializer(W.zeroPoints(name), OnnxDataType.UINT8, [N * Math.ceil((blocks * bits) / 8)], w.zeroPoints)
      : null,
  };
}

/** y = x W^T with W in MatMulNBits form. x: [..., K] -> [..., N] */
export function emitMatMulNBits(
  g: GraphBuilder,
  x: string,
  name: string,
  w: NBitsWeight,
  inits = addNBitsInitializers(g, name, w),
): string {
  const inputs = [x, inits.qweight, inits.scales, ...(inits.zeroPoints ? [inits.zeroPoints] : [])];
  return g.op('MatMulNBits', inputs, {
    domain: 'com.microsoft',
    name,
    attrs: { K: attr.int(w.inFeatures), N: attr.int(w.outFeatures), bits: attr.int(w.bits), block_size: attr.int(w.blockSize) },
  });
}

import { ShrinkrayError } from '../errors.ts';
import { blobBytes, readBits, unpackZeroPoints } from '../kernels/quantize/matmul-nbits-layout.ts';
import { dequantizeNBits } from '../kernels/quantize/dequantize.ts';
import type { GraphBuilder } from '../formats/onnx/graph-builder.ts';
import { attr, OnnxDataType } from '../formats/onnx/onnx-proto.ts';
import type { NBitsWeight } from './linear-weight.ts';

/**
 * How a block-quantized (NBits) linear weight is multiplied, for runtimes whose MatMulNBits
 * is slow. onnxruntime-web's wasm build has no n-bit GEMM kernel (MLAS has them only for
 * x86/ARM): it dequantizes the whole B on every call, which a decode step (M = 1) pays in
 * full. Measured by bench/wasm-quant-paths.ts.
 *
 *   'matmulnbits'         com.microsoft.MatMulNBits on the packed codes (default; the fast path
 *                         on WebGPU, 6-8x slower than fp32 per decode step on wasm).
 *   'dequantize-at-load'  the packed codes stay in the file (same bytes as MatMulNBits, N
 *                         innermost); a subgraph of standard opset-17 ops (BitShift/Cast/Sub/
 *                         Mul/Reshape) rebuilds the fp32 [K, N] weight bit for bit, and ORT's
 *                         constant folding evaluates it once at session creation. fp32 speed,
 *                         fp32 memory, plus a transient peak while folding (see below).
 *   'matmulinteger'       int8 per output channel [K, N], requantized from the dequantized block
 *                         weights (so 1 byte per weight even for int4 recipes), times activations
 *                         quantized to uint8 per tensor at run time (com.microsoft.
 *                         DynamicQuantizeMatMul, MLAS's wasm-SIMD QGEMM). Slightly lossy.
 *
 * Only linear layers follow the mode; a quantized tied classifier (emb4/emb8) stays MatMulNBits.
 */
export type QuantizedMatMul = 'matmulnbits' | 'dequantize-at-load' | 'matmulinteger';

export const QUANTIZED_MATMUL_MODES: readonly QuantizedMatMul[] = Object.freeze(['matmulnbits', 'dequantize-at-load', 'matmulinteger']);

/** Widths whose codes never straddle a byte, so uint8 shifts can unpack them. */
const BYTE_ALIGNED_BITS = [2, 4, 8];

/**
 * Codes re-laid out for unpacking at load, N innermost so the result needs no transpose:
 *   codes  uint8 [blocks, blockSize/perByte, 1, N]  perByte = 8/bits; code p of a byte in bits
 *                                                  [p*bits, (p+1)*bits): element k = b*blockSize + j*perByte + p
 *   symmetric: the field holds code XOR 2^(bits-1), i.e. (code - zero) in two's complement, so
 *   shifting it to the top of the byte and reading it as int8 gives (code - zero) * 2^(8-bits).
 */
function relayoutCodes(w: NBitsWeight, blocks: number, signed: boolean): Uint8Array {
  const { bits, blockSize, outFeatures: N } = w;
  const perByte = 8 / bits;
  const blob = blobBytes(blockSize, bits);
  const mid = signed ? 1 << (bits - 1) : 0;
  const out = new Uint8Array(blocks * (blockSize / perByte) * N); // [blocks, blockSize/perByte, 1, N]
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      for (let i = 0; i < blockSize; i++) {
        const code = readBits(w.packed, (n * blocks + b) * blob * 8 + i * bits, bits) ^ mid;
        out[(b * (blockSize / perByte) + Math.floor(i / perByte)) * N + n]! |= code << ((i % perByte) * bits);
      }
    }
  }
  return out;
}

/** A per-block value [N * blocks] (row-major [N, blocks]) as [blocks, 1, 1, N]. */
function blocksByChannel<T extends Float32Array | Uint8Array>(values: T, N: number, blocks: number, make: (n: number) => T): T {
  const out = make(N * blocks);
  for (let n = 0; n < N; n++) for (let b = 0; b < blocks; b++) out[b * N + n] = values[n * blocks + b]!;
  return out;
}

/**
 * The fp32 weight [K, N] of an NBits weight as a subgraph that ORT's constant folding
 * evaluates once at session creation: w = (code - zero) * scale, bit for bit as
 * dequantizeNBits computes it. The codes stay packed in the file (same bytes as
 * MatMulNBits, N innermost). Folding keeps every intermediate until the pass ends, so the
 * chain is short and integer until the last steps: symmetric int4 holds about 15 bytes per
 * weight at its peak (shifts 1+1, int8 1, float 4, scaled 4, reshaped 4), then 4.
 */
export function emitDequantizedWeight(g: GraphBuilder, name: string, w: NBitsWeight): string {
  const { bits, blockSize, outFeatures: N, inFeatures: K } = w;
  if (!BYTE_ALIGNED_BITS.includes(bits)) {
    throw new ShrinkrayError(
      'bad_recipe',
      `${name}: dequantize-at-load unpacks ${BYTE_ALIGNED_BITS.join('/')}-bit codes, got ${bits} bits`,
    );
  }
  const blocks = Math.ceil(K / blockSize);
  const perByte = 8 / bits;
  const blob = blobBytes(blockSize, bits);
  if (w.packed.byteLength !== N * blocks * blob || w.scales.length !== N * blocks) {
    throw new ShrinkrayError(
      'bad_argument',
      `${name}: expected packed [${N}, ${blocks}, ${blob}] and scales [${N * blocks}], got ${w.packed.byteLength} bytes and ${w.scales.length} scales`,
    );
  }
  const signed = !w.zeroPoints;
  const toFloat = (v: string) => g.op('Cast', [v], { attrs: { to: attr.int(OnnxDataType.FLOAT) } });
  const blockShape = [blocks, 1, 1, N];
  const packed = g.addInitializer(
    `${name}.codes`,
    signed && bits === 8 ? OnnxDataType.INT8 : OnnxDataType.UINT8,
    [blocks, blockSize / perByte, 1, N],
    relayoutCodes(w, blocks, signed),
  );
  let top = packed; // codes in the top `bits` of each byte: [blocks, blockSize/perByte, perByte, N]
  if (bits < 8) {
    const shifts = Uint8Array.from({ length: perByte }, (_, p) => p * bits);
    const fields = g.op('BitShift', [packed, g.addInitializer(`unpack${bits}_shifts`, OnnxDataType.UINT8, [1, 1, perByte, 1], shifts)], {
      attrs: { direction: attr.string('RIGHT') },
    });
    const shift = g.addInitializer(`unpack${bits}_shift`, OnnxDataType.UINT8, [], new Uint8Array([8 - bits]));
    top = g.op('BitShift', [fields, shift], { attrs: { direction: attr.string('LEFT') } }); // uint8 arithmetic wraps
    if (!signed) top = g.op('BitShift', [top, shift], { attrs: { direction: attr.string('RIGHT') } }); // the bare code
  }
  let centered: string; // (code - zero), times 2^(8-bits) when signed
  let scales = w.scales;
  if (signed) {
    centered = toFloat(bits < 8 ? g.op('Cast', [top], { attrs: { to: attr.int(OnnxDataType.INT8) } }) : top);
    const unit = 2 ** (8 - bits); // exact: a power of two
    scales = scales.map((s) => s / unit);
  } else {
    const zp = unpackZeroPoints(w.zeroPoints!, N, blocks, bits); // [N, blocks]
    const zeros = g.addInitializer(
      `${name}.zeros`,
      OnnxDataType.UINT8,
      blockShape,
      blocksByChannel(zp, N, blocks, (n) => new Uint8Array(n)),
    );
    centered = g.op('Sub', [toFloat(top), toFloat(zeros)]);
  }
  const scale = g.float32(
    `${name}.block_scales`,
    blocksByChannel(scales, N, blocks, (n) => new Float32Array(n)),
    blockShape,
  );
  const scaled = g.op('Mul', [centered, scale]); // [blocks, blockSize/perByte, perByte, N]
  const rows = g.op('Reshape', [scaled, g.int64(`${name}.padded_shape`, [blocks * blockSize, N])]); // [K padded, N]
  if (blocks * blockSize === K) return rows;
  return g.op('Slice', [rows, g.int64('zero', [0]), g.int64(`${name}.K`, [K]), g.int64('axes_0', [0])]); // [K, N]
}

/** Per-output-channel symmetric int8 of weights [N, K]: codes [K, N] (MatMul layout) and scales [N]. */
export function quantizePerChannelInt8(w: Float32Array, N: number, K: number): { codes: Int8Array; scales: Float32Array } {
  const codes = new Int8Array(K * N); // [K, N]
  const scales = new Float32Array(N); // [N]
  for (let n = 0; n < N; n++) {
    let max = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(w[n * K + k]!));
    const scale = max / 127;
    scales[n] = scale;
    const inv = scale > 0 ? 1 / scale : 0;
    for (let k = 0; k < K; k++) codes[k * N + n] = Math.max(-127, Math.min(127, Math.round(w[n * K + k]! * inv)));
  }
  return { codes, scales };
}

/**
 * y = x W^T through com.microsoft.DynamicQuantizeMatMul: x is quantized to uint8 per tensor at
 * run time, W is int8 per output channel. x: [..., K] -> [..., N]
 */
export function emitDynamicQuantizeMatMul(g: GraphBuilder, x: string, name: string, w: NBitsWeight): string {
  const { outFeatures: N, inFeatures: K } = w;
  const dense = dequantizeNBits({ packed: w.packed, scales: w.scales, zeroPoints: w.zeroPoints ?? null }, N, K, w);
  const q = quantizePerChannelInt8(dense, N, K);
  const codes = g.addInitializer(`${name}.int8`, OnnxDataType.INT8, [K, N], new Uint8Array(q.codes.buffer));
  const scales = g.float32(`${name}.channel_scales`, q.scales, [N]);
  return g.op('DynamicQuantizeMatMul', [x, codes, scales], { domain: 'com.microsoft', name });
}

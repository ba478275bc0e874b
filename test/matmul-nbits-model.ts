import type * as Ort from 'onnxruntime-web';
import { dequantizeNBits } from '../src/kernels/quantize/dequantize.ts';
import type { RtnOptions, RtnResult } from '../src/kernels/quantize/rtn-options.ts';
import { quantizeRtnReference } from '../src/kernels/quantize/rtn-reference.ts';
import { halfToFloat } from '../src/kernels/half.ts';
import { concatBytes } from './concat-bytes.ts';
import { lcgRng } from './seeded-random.ts';

/**
 * Test-only: a one-node ONNX model `Y = MatMulNBits(A, B, scales[, zero_points])`, encoded by
 * the minimal protobuf writer below (independent of src/formats/onnx/, so it also
 * cross-checks that writer's output elsewhere). T is f32: A [M, K], Y [M, N]. And the
 * check run on it: does an execution provider compute A @ dequantize(W)^T on our packing?
 */
type Field = Uint8Array;
const te = new TextEncoder();
function varint(v: number | bigint): number[] {
  let x = BigInt(v);
  if (x < 0n) x += 1n << 64n;
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return out;
}
const fInt = (no: number, v: number | bigint): Field => new Uint8Array([...varint(no << 3), ...varint(v)]);
const fBytes = (no: number, b: Uint8Array): Field => concatBytes([new Uint8Array([...varint((no << 3) | 2), ...varint(b.length)]), b]);
const fStr = (no: number, s: string): Field => fBytes(no, te.encode(s));
const msg = (no: number, parts: Field[]): Field => fBytes(no, concatBytes(parts));

const FLOAT = 1;
const UINT8 = 2;
const FLOAT16 = 10;
function tensor(name: string, dataType: number, dims: number[], raw: Uint8Array): Field {
  return msg(5, [...dims.map((d) => fInt(1, d)), fInt(2, dataType), fStr(8, name), fBytes(9, raw)]);
}
function valueInfo(no: number, name: string, dims: number[]): Field {
  const shape = msg(
    2,
    dims.map((d) => msg(1, [fInt(1, d)])),
  );
  return msg(no, [fStr(1, name), msg(2, [msg(1, [fInt(1, FLOAT), shape])])]);
}
const intAttr = (name: string, v: number): Field => msg(5, [fStr(1, name), fInt(3, v), fInt(20, 2)]);

export function matMulNBitsModel(q: RtnResult, M: number, N: number, K: number, opts: RtnOptions): Uint8Array {
  const kBlocks = Math.ceil(K / opts.blockSize);
  const blob = (opts.blockSize * opts.bits) / 8;
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const inputs = ['A', 'B', 'scales', ...(q.zeroPoints ? ['zp'] : [])];
  const node = msg(1, [
    ...inputs.map((i) => fStr(1, i)),
    fStr(2, 'Y'),
    fStr(3, 'mmnb'),
    fStr(4, 'MatMulNBits'),
    fStr(7, 'com.microsoft'),
    intAttr('K', K),
    intAttr('N', N),
    intAttr('bits', opts.bits),
    intAttr('block_size', opts.blockSize),
  ]);
  const inits = [
    tensor('B', UINT8, [N, kBlocks, blob], q.packed),
    tensor('scales', opts.scaleDtype === 'f16' ? FLOAT16 : FLOAT, [N * kBlocks], bytes(q.scales)),
    ...(q.zeroPoints ? [tensor('zp', UINT8, [q.zeroPoints.length], q.zeroPoints)] : []),
  ];
  const graph = msg(7, [node, fStr(2, 'g'), ...inits, valueInfo(11, 'A', [M, K]), valueInfo(12, 'Y', [M, N])]);
  return concatBytes([fInt(1, 8), msg(8, [fStr(1, ''), fInt(2, 17)]), msg(8, [fStr(1, 'com.microsoft'), fInt(2, 1)]), graph]);
}

/** One check: random W [N, K] and A [M, K] from lcgRng(seed), W quantized by the reference. */
export interface MatMulNBitsCase extends RtnOptions {
  M: number;
  N: number;
  K: number;
  seed: number;
}

/** The bundle under test: onnxruntime-web or onnxruntime-web/webgpu. */
export type OrtModule = Pick<typeof Ort, 'InferenceSession' | 'Tensor'>;

/**
 * Runs the one-node model on `executionProvider` and returns max |A @ dequantize(W)^T - Y|.
 * The graph's T is f32 (A, Y); f16 scales would make T f16, so f16 scales are checked
 * through their f32 values.
 */
export async function matMulNBitsMaxError(ort: OrtModule, executionProvider: string, c: MatMulNBitsCase): Promise<number> {
  const { M, N, K, seed, ...opts } = c;
  const rand = lcgRng(seed);
  const w = Float32Array.from({ length: N * K }, () => rand() * 0.2 + (opts.symmetric ? 0 : 0.03)); // [N, K]
  const a = Float32Array.from({ length: M * K }, () => rand()); // [M, K]
  const q = quantizeRtnReference(w, N, K, opts);
  const wHat = dequantizeNBits(q, N, K, opts); // [N, K]
  const scalesF32 = q.scales instanceof Uint16Array ? Float32Array.from(q.scales, halfToFloat) : q.scales;
  const model = matMulNBitsModel({ ...q, scales: scalesF32 }, M, N, K, { ...opts, scaleDtype: 'f32' });
  const session = await ort.InferenceSession.create(model, { executionProviders: [executionProvider] });
  const y = (await session.run({ A: new ort.Tensor('float32', a, [M, K]) })).Y.data as Float32Array; // [M, N]
  await session.release();
  let maxErr = 0;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * wHat[n * K + k];
      maxErr = Math.max(maxErr, Math.abs(s - y[m * N + n]));
    }
  }
  return maxErr;
}

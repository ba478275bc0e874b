import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { dequantizeNBits } from '../../src/kernels/quantize/dequantize.ts';
import { quantizeRtnReference } from '../../src/kernels/quantize/rtn-reference.ts';
import { f16BitsToF32 } from '../../src/kernels/quantize/scale-f16.ts';
import type { RtnOptions, RtnResult } from '../../src/kernels/quantize/rtn-options.ts';
import { ORT_WEB_MATMUL_NBITS_BITS } from '../../src/kernels/quantize/runtime-support.ts';

// Proves the packed layout on the real runtime: a one-node MatMulNBits model fed our packed
// weights must compute A @ dequantize(W)^T. The model is encoded by the minimal protobuf
// writer below (test-only; the project's ONNX writer lives in src/formats/onnx/).

// ---- minimal protobuf / ONNX encoder (only the fields this model needs) ----
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
function cat(parts: Field[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const fInt = (no: number, v: number | bigint): Field => new Uint8Array([...varint(no << 3), ...varint(v)]);
const fBytes = (no: number, b: Uint8Array): Field => cat([new Uint8Array([...varint((no << 3) | 2), ...varint(b.length)]), b]);
const fStr = (no: number, s: string): Field => fBytes(no, te.encode(s));
const msg = (no: number, parts: Field[]): Field => fBytes(no, cat(parts));

const FLOAT = 1;
const UINT8 = 2;
const FLOAT16 = 10;
function tensor(name: string, dataType: number, dims: number[], raw: Uint8Array): Field {
  return msg(5, [...dims.map((d) => fInt(1, d)), fInt(2, dataType), fStr(8, name), fBytes(9, raw)]);
}
function valueInfo(no: number, name: string, dims: number[]): Field {
  const shape = msg(2, dims.map((d) => msg(1, [fInt(1, d)])));
  return msg(no, [fStr(1, name), msg(2, [msg(1, [fInt(1, FLOAT), shape])])]);
}
const intAttr = (name: string, v: number): Field => msg(5, [fStr(1, name), fInt(3, v), fInt(20, 2)]);

function matMulNBitsModel(q: RtnResult, M: number, N: number, K: number, opts: RtnOptions): Uint8Array {
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
  return cat([fInt(1, 8), msg(8, [fStr(1, ''), fInt(2, 17)]), msg(8, [fStr(1, 'com.microsoft'), fInt(2, 1)]), graph]);
}

// ---- the check ----
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

async function runCase(bits: number, symmetric: boolean, scaleDtype: 'f32' | 'f16', blockSize: number, K: number) {
  const M = 3;
  const N = 5;
  const rand = lcg(bits * 1000 + K + (symmetric ? 1 : 0));
  const w = Float32Array.from({ length: N * K }, () => rand() * 0.2 + (symmetric ? 0 : 0.03));
  const a = Float32Array.from({ length: M * K }, () => rand());
  const opts: RtnOptions = { bits, blockSize, symmetric, scaleDtype };
  const q = quantizeRtnReference(w, N, K, opts);
  const wHat = dequantizeNBits(q, N, K, opts); // [N, K]
  // The graph's T is f32 (A, Y); f16 scales would make T f16, so f16 scales are checked
  // through their f32 values here.
  const scalesF32 = q.scales instanceof Uint16Array ? Float32Array.from(q.scales, f16BitsToF32) : q.scales;
  const model = matMulNBitsModel({ ...q, scales: scalesF32 }, M, N, K, { ...opts, scaleDtype: 'f32' });
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  const out = await session.run({ A: new ort.Tensor('float32', a, [M, K]) });
  const y = out.Y.data as Float32Array;
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

describe('MatMulNBits on onnxruntime-web (wasm EP, Node) matches A @ dequantize(W)^T', () => {
  ort.env.wasm.numThreads = 1;
  it('refuses 3-bit codes at session creation (why the quantizers accept only 2, 4, 8)', async () => {
    const q = { packed: new Uint8Array(2 * 6), scales: new Float32Array(2), zeroPoints: null };
    const model = matMulNBitsModel(q, 1, 2, 16, { bits: 3, blockSize: 16, symmetric: true, scaleDtype: 'f32' });
    await expect(ort.InferenceSession.create(model, { executionProviders: ['wasm'] })).rejects.toThrow(/Only 2b, 4b and 8b/);
  });
  for (const bits of ORT_WEB_MATMUL_NBITS_BITS) {
    for (const symmetric of [true, false]) {
      it(`bits=${bits} ${symmetric ? 'sym' : 'asym'}, block 32, K=96`, async () => {
        expect(await runCase(bits, symmetric, 'f32', 32, 96)).toBeLessThan(1e-4);
      });
      it(`bits=${bits} ${symmetric ? 'sym' : 'asym'}, block 16, K=40 (padded last block), f16-rounded scales`, async () => {
        expect(await runCase(bits, symmetric, 'f16', 16, 40)).toBeLessThan(1e-4);
      });
    }
  }
});

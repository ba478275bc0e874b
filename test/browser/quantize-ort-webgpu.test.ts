import * as ort from 'onnxruntime-web/webgpu';
import { describe, expect, it } from 'vitest';
import { dequantizeNBits } from '../../src/kernels/quantize/dequantize.ts';
import type { RtnOptions } from '../../src/kernels/quantize/rtn-options.ts';
import { quantizeRtnReference } from '../../src/kernels/quantize/rtn-reference.ts';
import { matMulNBitsModel } from '../matmul-nbits-model.ts';
import { lcgRng } from '../seeded-random.ts';

// The onnxruntime-web/webgpu bundle carries the native (C++) WebGPU EP rather than JSEP.
// Which MatMulNBits widths does it run on our packing? (SwiftShader here.)

async function maxError(bits: number, symmetric: boolean): Promise<number> {
  const M = 2;
  const N = 8;
  const K = 64;
  const r = lcgRng(bits * 10 + (symmetric ? 1 : 0));
  const w = Float32Array.from({ length: N * K }, () => r() * 0.2 + (symmetric ? 0 : 0.03));
  const a = Float32Array.from({ length: M * K }, () => r());
  const o: RtnOptions = { bits, blockSize: 32, symmetric, scaleDtype: 'f32' };
  const q = quantizeRtnReference(w, N, K, o);
  const wHat = dequantizeNBits(q, N, K, o);
  const session = await ort.InferenceSession.create(matMulNBitsModel(q, M, N, K, o), { executionProviders: ['webgpu'] });
  const y = (await session.run({ A: new ort.Tensor('float32', a, [M, K]) })).Y.data as Float32Array;
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

describe('onnxruntime-web/webgpu (native WebGPU EP) MatMulNBits on our packing', () => {
  for (const bits of [2, 4, 8]) {
    for (const symmetric of [true, false]) {
      it(`bits=${bits} ${symmetric ? 'sym' : 'asym'}`, async () => {
        expect(await maxError(bits, symmetric)).toBeLessThan(1e-4);
      });
    }
  }
});

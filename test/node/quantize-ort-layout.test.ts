import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { dequantizeNBits } from '../../src/kernels/quantize/dequantize.ts';
import { quantizeRtnReference } from '../../src/kernels/quantize/rtn-reference.ts';
import { f16BitsToF32 } from '../../src/kernels/quantize/scale-f16.ts';
import type { RtnOptions } from '../../src/kernels/quantize/rtn-options.ts';
import { matMulNBitsModel } from '../matmul-nbits-model.ts';
import { ORT_WEB_MATMUL_NBITS_BITS } from '../../src/kernels/quantize/runtime-support.ts';
import { lcgRng } from '../seeded-random.ts';

// Proves the packed layout on the real runtime: a one-node MatMulNBits model fed our packed
// weights must compute A @ dequantize(W)^T.

// ---- the check ----
async function runCase(bits: number, symmetric: boolean, scaleDtype: 'f32' | 'f16', blockSize: number, K: number) {
  const M = 3;
  const N = 5;
  const rand = lcgRng(bits * 1000 + K + (symmetric ? 1 : 0));
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

import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { matMulNBitsMaxError, matMulNBitsModel } from '../matmul-nbits-model.ts';
import { ORT_WEB_MATMUL_NBITS_BITS } from '../../src/kernels/quantize/runtime-support.ts';
import { BUDGET } from '../error-budgets.ts';

// Proves the packed layout on the real runtime: a one-node MatMulNBits model fed our packed
// weights must compute A @ dequantize(W)^T.

function runCase(bits: number, symmetric: boolean, scaleDtype: 'f32' | 'f16', blockSize: number, K: number): Promise<number> {
  const seed = bits * 1000 + K + (symmetric ? 1 : 0);
  return matMulNBitsMaxError(ort, 'wasm', { M: 3, N: 5, K, bits, blockSize, symmetric, scaleDtype, seed });
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
        expect(await runCase(bits, symmetric, 'f32', 32, 96)).toBeLessThan(BUDGET.matMulNBitsVsDequantized);
      });
      it(`bits=${bits} ${symmetric ? 'sym' : 'asym'}, block 16, K=40 (padded last block), f16-rounded scales`, async () => {
        expect(await runCase(bits, symmetric, 'f16', 16, 40)).toBeLessThan(BUDGET.matMulNBitsVsDequantized);
      });
    }
  }
});

import * as ort from 'onnxruntime-web/webgpu';
import { describe, expect, it } from 'vitest';
import { matMulNBitsMaxError } from '../matmul-nbits-model.ts';
import { BUDGET } from '../error-budgets.ts';

// The onnxruntime-web/webgpu bundle carries the native (C++) WebGPU EP rather than JSEP.
// Which MatMulNBits widths does it run on our packing? (SwiftShader here.)

function maxError(bits: number, symmetric: boolean): Promise<number> {
  const seed = bits * 10 + (symmetric ? 1 : 0);
  return matMulNBitsMaxError(ort, 'webgpu', { M: 2, N: 8, K: 64, bits, blockSize: 32, symmetric, scaleDtype: 'f32', seed });
}

describe('onnxruntime-web/webgpu (native WebGPU EP) MatMulNBits on our packing', () => {
  for (const bits of [2, 4, 8]) {
    for (const symmetric of [true, false]) {
      it(`bits=${bits} ${symmetric ? 'sym' : 'asym'}`, async () => {
        expect(await maxError(bits, symmetric)).toBeLessThan(BUDGET.matMulNBitsVsDequantized);
      });
    }
  }
});

import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RtnOptions, RtnResult } from '../../src/kernels/quantize/rtn-options.ts';
import { quantizeRtnReference } from '../../src/kernels/quantize/rtn-reference.ts';
import { createQuantizePoolBrowser } from '../../src/kernels/quantize/wasm/quantize-pool-browser.ts';
import { quantizeWasmUrl } from '../../src/kernels/quantize/wasm/quantize-wasm-url.ts';
import { loadQuantizeWasm, type WasmRtnKernel } from '../../src/kernels/quantize/wasm/quantize-wasm.ts';
import { quantizeRtnWebGpu } from '../../src/kernels/quantize/webgpu/rtn-quantize.ts';
import { matMulNBitsMaxError, matMulNBitsModel } from '../matmul-nbits-model.ts';
import { rtnCases, runRtnCases } from '../backend-cases.ts';
import { lcgRng } from '../seeded-random.ts';
import { BUDGET } from '../error-budgets.ts';

// In real Chromium: the WASM SIMD build, its Web Worker pool and the WebGPU kernel
// (SwiftShader here) run the shared case list (test/backend-cases.ts) against the scalar
// reference, as the Node test runs it on WASM. Error budget: none (bitExact) for all three.

let wasm: WasmRtnKernel;
let device: GPUDevice;
beforeAll(async () => {
  const res = await fetch(quantizeWasmUrl);
  expect(res.ok, `${quantizeWasmUrl}: HTTP ${res.status} (run npm run build:wasm)`).toBe(true);
  wasm = await loadQuantizeWasm(await res.arrayBuffer());
  const gpu: GPU | undefined = navigator.gpu;
  expect(gpu, 'navigator.gpu is missing (is --enable-unsafe-webgpu set?)').toBeDefined();
  const adapter = await gpu!.requestAdapter();
  expect(adapter).not.toBeNull();
  device = await adapter!.requestDevice();
});

const bytes = (a: ArrayBufferView | null) => a && Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
function expectSame(got: RtnResult, ref: RtnResult, what: string) {
  expect(got.scales.constructor, what).toBe(ref.scales.constructor);
  expect(bytes(got.packed), `${what}: packed`).toEqual(bytes(ref.packed));
  expect(bytes(got.scales), `${what}: scales`).toEqual(bytes(ref.scales));
  expect(bytes(got.zeroPoints), `${what}: zero points`).toEqual(bytes(ref.zeroPoints));
}

const cases = rtnCases();

describe('WASM SIMD in Chromium', () => {
  it('every case of the shared list matches the reference (test/backend-cases.ts)', async () => {
    expect(await runRtnCases({ name: 'wasm (Chromium)', quantizeRtn: (w, N, K, o) => wasm.quantizeRtn(w, N, K, o) }, cases)).toEqual([]);
  });

  it('a pool of 2 Web Workers gives the same output', async () => {
    const pool = await createQuantizePoolBrowser(2);
    try {
      expect(
        await runRtnCases({ name: 'wasm pool (Web Workers)', quantizeRtn: (w, N, K, o) => pool.quantizeRtn(w, N, K, o) }, cases),
      ).toEqual([]);
      const r = lcgRng(5);
      const w = Float32Array.from({ length: 77 * 256 }, () => r());
      for (const o of [
        { bits: 4, blockSize: 32, symmetric: true, scaleDtype: 'f32' },
        { bits: 8, blockSize: 128, symmetric: false, scaleDtype: 'f16' },
      ] as RtnOptions[]) {
        expectSame(await pool.quantizeRtn(w, 77, 256, o), quantizeRtnReference(w, 77, 256, o), `pool ${JSON.stringify(o)}`);
      }
    } finally {
      pool.close();
    }
  });
});

describe('WebGPU kernel in Chromium', () => {
  it('every case of the shared list matches the reference bit for bit, refusals included', async () => {
    expect(await runRtnCases({ name: 'webgpu', quantizeRtn: (w, N, K, o) => quantizeRtnWebGpu(device, w, N, K, o) }, cases)).toEqual([]);
  });

  it('names the bad row and block of a NaN like the reference', async () => {
    const w = new Float32Array(4 * 64);
    w[3 * 64 + 50] = NaN;
    await expect(quantizeRtnWebGpu(device, w, 4, 64, { bits: 4, blockSize: 32, symmetric: true, scaleDtype: 'f32' })).rejects.toThrow(
      /row 3, block 1: weight 18 is NaN/,
    );
  });
});

// Measured: the default onnxruntime-web bundle (JSEP WebGPU EP) runs 2- and 4-bit
// MatMulNBits and refuses 8 bits at session creation; the onnxruntime-web/webgpu bundle
// (native WebGPU EP) is checked in quantize-ort-webgpu.test.ts.
describe('onnxruntime-web (default bundle) WebGPU EP runs MatMulNBits on our packing', () => {
  it('refuses 8-bit MatMulNBits on this EP (so int8 recipes need the wasm EP or another graph)', async () => {
    const o: RtnOptions = { bits: 8, blockSize: 32, symmetric: true, scaleDtype: 'f32' };
    const q = quantizeRtnReference(new Float32Array(2 * 32).fill(0.5), 2, 32, o);
    await expect(ort.InferenceSession.create(matMulNBitsModel(q, 1, 2, 32, o), { executionProviders: ['webgpu'] })).rejects.toThrow(
      /Only 2b and 4b quantization is supported/,
    );
  });
  for (const bits of [2, 4]) {
    for (const symmetric of [true, false]) {
      it(`bits=${bits} ${symmetric ? 'sym' : 'asym'}: Y = A @ dequantize(W)^T`, async () => {
        const seed = bits * 10 + (symmetric ? 1 : 0);
        const c = { M: 2, N: 8, K: 64, bits, blockSize: 32, symmetric, scaleDtype: 'f32' as const, seed };
        const maxErr = await matMulNBitsMaxError(ort, 'webgpu', c);
        expect(maxErr).toBeLessThan(BUDGET.matMulNBitsVsDequantized);
      });
    }
  }
});

import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RtnOptions, RtnResult } from '../../src/kernels/quantize/rtn-options.ts';
import { quantizeRtnReference } from '../../src/kernels/quantize/rtn-reference.ts';
import { createQuantizePoolBrowser } from '../../src/kernels/quantize/wasm/quantize-pool-browser.ts';
import { quantizeWasmUrl } from '../../src/kernels/quantize/wasm/quantize-wasm-url.ts';
import { loadQuantizeWasm, type WasmRtnKernel } from '../../src/kernels/quantize/wasm/quantize-wasm.ts';
import { quantizeRtnWebGpu } from '../../src/kernels/quantize/webgpu/rtn-quantize.ts';
import { matMulNBitsMaxError, matMulNBitsModel } from '../matmul-nbits-model.ts';
import { lcgRng } from '../seeded-random.ts';
import { BUDGET } from '../error-budgets.ts';

// In real Chromium: the WASM SIMD build, its Web Worker pool and the WebGPU kernel
// (SwiftShader here) against the scalar reference. Error budget: none for all three; the
// WGSL emulates the reference's f32 steps in integers, so subnormals and ties agree too.

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

function adversarial(N: number, K: number): Float32Array {
  const w = new Float32Array(N * K);
  const r = lcgRng(2);
  for (let n = 0; n < N; n++) {
    const row = w.subarray(n * K, (n + 1) * K);
    row.subarray(16, 32).fill(0.25);
    row.subarray(32, 48).fill(-3);
    for (let i = 48; i < 64; i++) row[i] = 1 + r();
    for (let i = 64; i < 80; i++) row[i] = r() * 3e37; // huge, f32 range still finite
    for (let i = 80; i < 96; i++) row[i] = r() * 1e-30; // tiny
    for (let i = 96; i < 112; i++) row[i] = r() * 1e-40; // f32 subnormals: GPUs may flush these
    for (let i = 112; i < 128; i++) row[i] = (i - 119.5) * (n + 1); // .5 ties
    row[128] = -1; // asym: scale 1, zero 1 (odd), then ties
    row[129] = 14;
    for (let i = 130; i < 144; i++) row[i] = i - 131 + 0.5;
    for (let i = 144; i < K; i++) row[i] = r() * 1e-3;
  }
  return w;
}

const widths = [2, 4, 8];
const cases: { N: number; K: number; w: Float32Array }[] = [];
{
  const r = lcgRng(1);
  for (const [N, K] of [
    [5, 256],
    [3, 300],
    [2, 1000],
  ])
    cases.push({ N, K, w: Float32Array.from({ length: N * K }, () => r() * 0.1) });
  cases.push({ N: 3, K: 16 * 10 + 5, w: adversarial(3, 16 * 10 + 5) });
}

describe('WASM SIMD in Chromium', () => {
  it('matches the reference on random and adversarial weights', () => {
    for (const { N, K, w } of cases) {
      for (const bits of widths) {
        for (const blockSize of [16, 32, 64, 128]) {
          if (blockSize > K) continue;
          for (const symmetric of [true, false]) {
            const o: RtnOptions = { bits, blockSize, symmetric, scaleDtype: 'f32' };
            expectSame(wasm.quantizeRtn(w, N, K, o), quantizeRtnReference(w, N, K, o), `wasm ${JSON.stringify(o)} N=${N} K=${K}`);
          }
        }
      }
    }
  });

  it('a pool of 2 Web Workers gives the same output', async () => {
    const pool = await createQuantizePoolBrowser(2);
    try {
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
  it('matches the reference bit for bit: every width, block size, mode, scale dtype, adversarial values', async () => {
    for (const { N, K, w } of cases) {
      for (const bits of widths) {
        for (const blockSize of [16, 32, 64, 128, 256]) {
          if (blockSize > K) continue;
          for (const symmetric of [true, false]) {
            for (const scaleDtype of ['f32', 'f16'] as const) {
              const o: RtnOptions = { bits, blockSize, symmetric, scaleDtype };
              let ref: RtnResult;
              try {
                ref = quantizeRtnReference(w, N, K, o);
              } catch (e) {
                // the huge block overflows f16 scales: the GPU must refuse it the same way
                await expect(quantizeRtnWebGpu(device, w, N, K, o)).rejects.toThrow((e as Error).message);
                continue;
              }
              expectSame(await quantizeRtnWebGpu(device, w, N, K, o), ref, `webgpu ${JSON.stringify(o)} N=${N} K=${K}`);
            }
          }
        }
      }
    }
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

import { beforeAll, describe, expect, it } from 'vitest';
import { ensureWasm } from '../../scripts/build-wasm.ts';
import { unpackCodes } from '../../src/kernels/quantize/matmul-nbits-layout.ts';
import type { RtnOptions, RtnResult } from '../../src/kernels/quantize/rtn-options.ts';
import { quantizeRtnReference } from '../../src/kernels/quantize/rtn-reference.ts';
import type { WasmRtnKernel } from '../../src/kernels/quantize/wasm/quantize-wasm.ts';
import { createQuantizePoolNode } from '../../src/node/quantize-pool-node.ts';
import { loadQuantizeWasmNode, readQuantizeWasm } from '../../src/node/kernel-wasm-node.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { rtnCases, runRtnCases } from '../backend-cases.ts';
import { lcgRng } from '../seeded-random.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

// Error budget: none (the case list's bitExact). The WASM SIMD kernel does the reference's f32
// operations (f32.div, f32.nearest), so packed codes, scales and zero points are the same bytes.

let kernel: WasmRtnKernel;
beforeAll(async () => {
  ensureWasm();
  kernel = await loadQuantizeWasmNode();
});

function bytes(a: ArrayBufferView | null): number[] | null {
  return a && Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function expectIdentical(w: Float32Array, N: number, K: number, o: RtnOptions) {
  const ref: RtnResult = quantizeRtnReference(w, N, K, o);
  const got = kernel.quantizeRtn(w, N, K, o);
  expect(got.scales.constructor).toBe(ref.scales.constructor);
  // Compare as buffers first (fast), then show the difference if any.
  if (Buffer.compare(Buffer.from(got.packed), Buffer.from(ref.packed)) !== 0) expect(bytes(got.packed)).toEqual(bytes(ref.packed));
  expect(bytes(got.scales)).toEqual(bytes(ref.scales));
  expect(bytes(got.zeroPoints)).toEqual(bytes(ref.zeroPoints));
}

const widths = [2, 4, 8];

describe('WASM SIMD quantizer matches the scalar reference bit for bit', () => {
  // The case list (test/backend-cases.ts) that the browser test also runs on WASM in Chromium and on WebGPU.
  it('every case of the shared list: random and adversarial weights, every width, block size, mode and scale dtype', async () => {
    const cases = rtnCases();
    expect(cases.length).toBeGreaterThan(250);
    expect(await runRtnCases({ name: 'wasm (Node)', quantizeRtn: (w, N, K, o) => kernel.quantizeRtn(w, N, K, o) }, cases)).toEqual([]);
  });

  it('exact ties with an odd zero point round w/scale half to even before adding the zero', () => {
    // asym 4-bit, block 32: lo -1, hi 14 -> scale 1, zero 1 (odd); then w = k + 0.5, all ties
    const w = new Float32Array(32);
    w[0] = -1;
    w[1] = 14;
    for (let i = 2; i < 16; i++) w[i] = i - 3 + 0.5; // -0.5, 0.5, ..., 12.5
    const o: RtnOptions = { bits: 4, blockSize: 32, symmetric: false, scaleDtype: 'f32' };
    const codes = Array.from(unpackCodes(kernel.quantizeRtn(w, 1, 32, o).packed, 1, 1, 32, 4)).slice(0, 16);
    // rne(k + 0.5) + 1: k even stays k, k odd goes to k + 1
    expect(codes).toEqual([0, 15, 1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11, 13, 13]);
    for (const bits of widths) {
      for (const scaleDtype of ['f32', 'f16'] as const) expectIdentical(w, 1, 32, { bits, blockSize: 32, symmetric: false, scaleDtype });
    }
  });

  it('a tensor larger than one wasm chunk (rows split across calls)', () => {
    const r = lcgRng(3);
    const N = 700;
    const K = 576;
    const w = Float32Array.from({ length: N * K }, () => r());
    expectIdentical(w, N, K, { bits: 4, blockSize: 32, symmetric: true, scaleDtype: 'f32' });
    expectIdentical(w, N, K, { bits: 8, blockSize: 128, symmetric: false, scaleDtype: 'f16' });
  });

  it('names the same bad row and block as the reference, and validates arguments', () => {
    const K = 64;
    const w = new Float32Array(3 * K);
    w[2 * K + 40] = Infinity;
    const o: RtnOptions = { bits: 4, blockSize: 32, symmetric: true, scaleDtype: 'f32', name: 'mlp.down_proj.weight' };
    let refMsg = '';
    try {
      quantizeRtnReference(w, 3, K, o);
    } catch (e) {
      refMsg = (e as Error).message;
    }
    expect(refMsg).toMatch(/'mlp.down_proj.weight': row 2, block 1: weight 8 is Infinity/);
    expect(() => kernel.quantizeRtn(w, 3, K, o)).toThrow(refMsg);
    const wide = Float32Array.from({ length: 32 }, (_, i) => (i % 2 ? 3e38 : -3e38));
    expect(() => kernel.quantizeRtn(wide, 1, 32, { ...o, symmetric: false })).toThrow(/row 0, block 0: range .* overflows f32/);
    expectShrinkrayError(() => kernel.quantizeRtn(w, 3, K, { ...o, bits: 5 }), 'bad_recipe');
    expect(() => kernel.quantizeRtn(w, 4, K, o)).toThrow(/expected a Float32Array of N\*K/);
  });
});

describe('WASM worker pool (worker_threads) matches the reference', () => {
  it('splits rows across workers and reassembles identical output; names the bad row of the whole tensor', async () => {
    const pool = await createQuantizePoolNode(2);
    try {
      expect(await runRtnCases({ name: 'wasm pool (worker_threads)', quantizeRtn: (w, N, K, o) => pool.quantizeRtn(w, N, K, o) })).toEqual(
        [],
      );
      const r = lcgRng(4);
      const N = 301;
      const K = 576;
      const w = Float32Array.from({ length: N * K }, () => r());
      for (const o of [
        { bits: 4, blockSize: 32, symmetric: true, scaleDtype: 'f32' },
        { bits: 8, blockSize: 64, symmetric: false, scaleDtype: 'f16' },
        { bits: 2, blockSize: 16, symmetric: false, scaleDtype: 'f32' },
      ] as RtnOptions[]) {
        const ref = quantizeRtnReference(w, N, K, o);
        const got = await pool.quantizeRtn(w, N, K, o);
        expect(Buffer.compare(Buffer.from(got.packed), Buffer.from(ref.packed))).toBe(0);
        expect(bytes(got.scales)).toEqual(bytes(ref.scales));
        expect(bytes(got.zeroPoints)).toEqual(bytes(ref.zeroPoints));
      }
      // Weights in shared memory are read in place by the workers, with the same result.
      const shared = new Float32Array(new SharedArrayBuffer(w.byteLength));
      shared.set(w);
      const o: RtnOptions = { bits: 4, blockSize: 64, symmetric: false, scaleDtype: 'f32' };
      const fromShared = await pool.quantizeRtn(shared, N, K, o);
      expect(Buffer.compare(Buffer.from(fromShared.packed), Buffer.from(quantizeRtnReference(w, N, K, o).packed))).toBe(0);
      expect(shared).toEqual(w);
      w[200 * K + 37] = NaN;
      await expect(pool.quantizeRtn(w, N, K, { bits: 4, blockSize: 32, symmetric: true, scaleDtype: 'f32' })).rejects.toThrow(
        /row 200, block 1: weight 5 is NaN/,
      );
    } finally {
      pool.close();
    }
  });
});

describe('createRtnQuantizer picks an implementation', () => {
  it('wasm when given its bytes, the reference without (or when the bytes do not load), errors when a forced backend lacks its ingredient', async () => {
    const o: RtnOptions = { bits: 4, blockSize: 32, symmetric: false, scaleDtype: 'f32' };
    const w = Float32Array.from({ length: 4 * 64 }, lcgRng(9));
    const ref = quantizeRtnReference(w, 4, 64, o);
    const viaWasm = await createRtnQuantizer({ wasm: await readQuantizeWasm() });
    expect(viaWasm.backend).toBe('wasm');
    expect(bytes((await viaWasm.quantizeRtn(w, 4, 64, o)).packed)).toEqual(bytes(ref.packed));
    expect((await createRtnQuantizer()).backend).toBe('reference');
    expect((await createRtnQuantizer({ wasm: new Uint8Array([0, 1, 2]) })).backend).toBe('reference');
    await expect(createRtnQuantizer({ prefer: 'webgpu' })).rejects.toThrow(/needs a WebGPU device/);
    await expect(createRtnQuantizer({ prefer: 'wasm', wasm: new Uint8Array([0, 1, 2]) })).rejects.toThrow(/could not instantiate/);
  });
});

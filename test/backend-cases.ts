import type { RtnOptions, RtnResult } from '../src/kernels/quantize/rtn-options.ts';
import { quantizeRtnReference } from '../src/kernels/quantize/rtn-reference.ts';
import { lcgRng } from './seeded-random.ts';

/**
 * One case list, run on every backend (as ggml's test-backend-ops runs one list on every
 * backend against the CPU): each case is written once here, and a Node test (the WASM SIMD
 * kernel, its worker pool) and a browser test (the same in Chromium, and WebGPU) run it
 * against the scalar reference. A case names its budget; the quantizer's is `bitExact`:
 * every backend does the reference's f32 steps (WASM: f32.div, f32.nearest; WGSL emulates
 * them in integers, subnormals and ties included), so codes, scales and zero points are the
 * same bytes, and where the reference refuses (f16 scales overflow) the backend must refuse
 * with the same message.
 */
export interface RtnBackend {
  name: string;
  quantizeRtn(w: Float32Array, N: number, K: number, o: RtnOptions): RtnResult | Promise<RtnResult>;
}

export interface RtnCase {
  name: string;
  w: Float32Array;
  N: number;
  K: number;
  o: RtnOptions;
  budget: 'bitExact';
}

/** Every trap of round-to-nearest in one tensor: constants, one-signed, huge, tiny, subnormal blocks, exact ties, extremes. */
function adversarial(N: number, K: number): Float32Array {
  const w = new Float32Array(N * K);
  const r = lcgRng(2);
  for (let n = 0; n < N; n++) {
    const row = w.subarray(n * K, (n + 1) * K);
    row.subarray(16, 32).fill(0.25); // constant
    row.subarray(32, 48).fill(-3); // constant negative
    for (let i = 48; i < 64; i++) row[i] = 1 + r(); // all positive
    for (let i = 64; i < 80; i++) row[i] = r() * 3e37; // huge (f32 range still finite; f16 scales overflow)
    for (let i = 80; i < 96; i++) row[i] = r() * 1e-30; // tiny
    for (let i = 96; i < 112; i++) row[i] = r() * 1e-40; // f32 subnormals: GPUs may flush these
    for (let i = 112; i < 128; i++) row[i] = (i - 119.5) * (n + 1); // w/scale lands on .5 ties
    row[128] = -1; // asym: scale 1, zero 1 (odd), then ties
    row[129] = 14;
    for (let i = 130; i < 144; i++) row[i] = i - 131 + 0.5;
    for (let i = 144; i < 160; i++) row[i] = i % 2 ? 7 : -7; // max magnitude, both signs
    row[160] = -8; // a lone extreme
    for (let i = 176; i < K; i++) row[i] = r() * 1e-3; // tail, partly in a padded block
  }
  return w;
}

/** Random weights of shapes with K a multiple of the block or not, and the adversarial tensor; every width, block, mode and scale dtype. */
export function rtnCases(): RtnCase[] {
  const r = lcgRng(1);
  const tensors: { what: string; N: number; K: number; w: Float32Array }[] = [
    [5, 256],
    [7, 300],
    [3, 1000],
    [2, 270],
  ].map(([N, K]) => ({ what: 'random', N: N!, K: K!, w: Float32Array.from({ length: N! * K! }, () => r() * 0.1) }));
  tensors.push({ what: 'adversarial', N: 4, K: 16 * 12 + 5, w: adversarial(4, 16 * 12 + 5) });
  const cases: RtnCase[] = [];
  for (const { what, N, K, w } of tensors) {
    for (const bits of [2, 4, 8]) {
      for (const blockSize of [16, 32, 64, 128, 256]) {
        if (blockSize > K) continue;
        for (const symmetric of [true, false]) {
          for (const scaleDtype of ['f32', 'f16'] as const) {
            const o: RtnOptions = { bits, blockSize, symmetric, scaleDtype };
            cases.push({ name: `${what} ${N}x${K} ${JSON.stringify(o)}`, w, N, K, o, budget: 'bitExact' });
          }
        }
      }
    }
  }
  return cases;
}

const bytes = (a: ArrayBufferView | null) => a && Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
const same = (a: ArrayBufferView | null, b: ArrayBufferView | null) => JSON.stringify(bytes(a)) === JSON.stringify(bytes(b));

/** Runs every case on `backend`; returns one line per case that differs from the reference (none when all agree). */
export async function runRtnCases(backend: RtnBackend, cases = rtnCases()): Promise<string[]> {
  const failures: string[] = [];
  for (const c of cases) {
    let ref: RtnResult | Error;
    let got: RtnResult | Error;
    try {
      ref = quantizeRtnReference(c.w, c.N, c.K, c.o);
    } catch (e) {
      ref = e as Error;
    }
    try {
      got = await backend.quantizeRtn(c.w, c.N, c.K, c.o);
    } catch (e) {
      got = e as Error;
    }
    const at = `${backend.name} ${c.name}`;
    if (ref instanceof Error || got instanceof Error) {
      const message = (x: RtnResult | Error) => (x instanceof Error ? `refused: ${x.message}` : 'quantized');
      if (message(ref) !== message(got)) failures.push(`${at}: reference ${message(ref)}, backend ${message(got)}`);
      continue;
    }
    if (got.scales.constructor !== ref.scales.constructor) failures.push(`${at}: scales are ${got.scales.constructor.name}`);
    for (const part of ['packed', 'scales', 'zeroPoints'] as const) {
      if (!same(got[part], ref[part])) failures.push(`${at}: ${part} differ`);
    }
  }
  return failures;
}

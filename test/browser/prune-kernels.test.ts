import { beforeAll, describe, expect, it } from 'vitest';
import { magnitudeMask, type UnstructuredOptions } from '../../src/kernels/prune/magnitude.ts';
import { nmMask } from '../../src/kernels/prune/n-m.ts';
import { pruneWasmUrl } from '../../src/kernels/prune/wasm/prune-wasm-url.ts';
import { loadPruneWasm, type WasmPruneKernel } from '../../src/kernels/prune/wasm/prune-wasm.ts';
import { createWebGpuPruner, type WebGpuPruneKernel } from '../../src/kernels/prune/webgpu/prune-webgpu.ts';
import { pruneCases, runPruneCases, type PruneBackend } from '../backend-cases-prune.ts';
import { randomFloats } from '../seeded-random.ts';

// In real Chromium: the WASM SIMD build and the WebGPU kernel (SwiftShader here) run the shared
// case list (test/backend-cases-prune.ts) against the TypeScript kernels, as the Node test runs
// it on WASM. Error budget: none (bitExact).

let wasm: WasmPruneKernel;
let gpu: WebGpuPruneKernel;
let chunked: WebGpuPruneKernel; // small binding cap: several dispatches per tensor
beforeAll(async () => {
  const res = await fetch(pruneWasmUrl);
  expect(res.ok, `${pruneWasmUrl}: HTTP ${res.status} (run npm run build:wasm)`).toBe(true);
  wasm = await loadPruneWasm(await res.arrayBuffer());
  const adapter = await (navigator.gpu as GPU | undefined)?.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (is --enable-unsafe-webgpu set?)');
  const device = await adapter.requestDevice();
  gpu = await createWebGpuPruner(device);
  chunked = await createWebGpuPruner(device, { maxChunkBytes: 4096 });
});

const backend = (name: string, k: WasmPruneKernel | WebGpuPruneKernel): PruneBackend => ({
  name,
  magnitudeMask: (...a) => k.magnitudeMask(...a),
  scoreMask: (...a) => k.scoreMask(...a),
  nmMask: (...a) => k.nmMask(...a),
  nmScoreMask: (...a) => k.nmScoreMask(...a),
});

describe('pruning masks in Chromium equal the TypeScript kernels', () => {
  it('WASM SIMD: every case of the shared list', async () => {
    expect(await runPruneCases(backend('wasm (Chromium)', wasm))).toEqual([]);
  });

  it('WebGPU: every case of the shared list up to 100,000 values', async () => {
    expect(await runPruneCases(backend('webgpu', gpu), pruneCases({ maxValues: 100_000 }))).toEqual([]);
  });

  it('WebGPU with a small binding cap: row scopes and N:M split over several dispatches; a tensor scope past the cap is refused', async () => {
    const w = randomFloats(50 * 64, 77, 4);
    const row: UnstructuredOptions = { sparsity: 0.5, scope: 'row' };
    expect(await chunked.magnitudeMask(w, 50, 64, row)).toEqual(magnitudeMask(w, 50, 64, row));
    expect(await chunked.nmMask(w, 50, 64, { n: 2, m: 4 })).toEqual(nmMask(w, 50, 64, { n: 2, m: 4 }));
    await expect(chunked.scoreMask(w, 50, 64, { sparsity: 0.5, scope: 'tensor' }, 'q')).rejects.toThrow(
      /q: a scope of 3200 values .* exceeds the GPU's storage binding limit/,
    );
  });
});

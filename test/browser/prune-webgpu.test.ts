import { beforeAll, describe, expect, it } from 'vitest';
import { magnitudeMask, scoreMask } from '../../src/kernels/prune/magnitude.ts';
import { nmMask, nmScoreMask } from '../../src/kernels/prune/n-m.ts';
import { createWebGpuPruner, type WebGpuPruneKernel } from '../../src/kernels/prune/webgpu/prune-webgpu.ts';
import { randomFloats } from '../seeded-random.ts';

/** WebGPU pruning masks (SwiftShader in CI) against the TypeScript kernels: bit for bit. */

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

let gpu: WebGpuPruneKernel;
let chunked: WebGpuPruneKernel; // small binding cap: several dispatches per tensor
beforeAll(async () => {
  const adapter = await (navigator.gpu as GPU | undefined)?.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (is --enable-unsafe-webgpu set?)');
  const device = await adapter.requestDevice();
  gpu = await createWebGpuPruner(device);
  chunked = await createWebGpuPruner(device, { maxChunkBytes: 4096 });
});

describe('WebGPU pruning masks equal the TypeScript kernels', () => {
  it('magnitude and score masks, row and tensor scope, random, tied and signed', async () => {
    let seed = 1;
    for (const [N, K] of [
      [1, 1],
      [1, 7],
      [3, 5],
      [16, 64],
      [7, 172],
      [40, 300],
    ] as const) {
      for (const levels of [0, 3]) {
        const w = randomFloats(N * K, seed++, levels);
        if (w.length > 3) w[2] = -0;
        for (const scope of ['row', 'tensor'] as const) {
          for (const sparsity of [0, 0.3, 0.5, 0.77, 1]) {
            expect(firstDiff(await gpu.magnitudeMask(w, N, K, { sparsity, scope }), magnitudeMask(w, N, K, { sparsity, scope }))).toBe(-1);
            expect(firstDiff(await gpu.scoreMask(w, N, K, { sparsity, scope }), scoreMask(w, N, K, { sparsity, scope }))).toBe(-1);
          }
        }
      }
    }
  });

  it('all-equal scores, extreme values, chunked dispatches', async () => {
    const eq = new Float32Array(40).fill(0.25);
    expect(
      firstDiff(await gpu.scoreMask(eq, 4, 10, { sparsity: 0.3, scope: 'row' }), scoreMask(eq, 4, 10, { sparsity: 0.3, scope: 'row' })),
    ).toBe(-1);
    const x = new Float32Array([1e-45, -3e38, Infinity, -1e-40, 0, 2, -Infinity, 1e-38, -0, 5]);
    for (const sparsity of [0.2, 0.5, 0.9]) {
      expect(firstDiff(await gpu.scoreMask(x, 1, 10, { sparsity, scope: 'row' }), scoreMask(x, 1, 10, { sparsity, scope: 'row' }))).toBe(
        -1,
      );
      expect(
        firstDiff(await gpu.magnitudeMask(x, 2, 5, { sparsity, scope: 'tensor' }), magnitudeMask(x, 2, 5, { sparsity, scope: 'tensor' })),
      ).toBe(-1);
    }
    const w = randomFloats(50 * 64, 77, 4);
    expect(
      firstDiff(
        await chunked.magnitudeMask(w, 50, 64, { sparsity: 0.5, scope: 'row' }),
        magnitudeMask(w, 50, 64, { sparsity: 0.5, scope: 'row' }),
      ),
    ).toBe(-1);
    expect(firstDiff(await chunked.nmMask(w, 50, 64, { n: 2, m: 4 }), nmMask(w, 50, 64, { n: 2, m: 4 }))).toBe(-1);
    await expect(chunked.scoreMask(w, 50, 64, { sparsity: 0.5, scope: 'tensor' }, 'q')).rejects.toThrow(
      /q: a scope of 3200 values .* exceeds the GPU's storage binding limit/,
    );
  });

  it('N:M masks', async () => {
    let seed = 50;
    for (const [n, m] of [
      [2, 4],
      [1, 4],
      [4, 8],
      [8, 16],
      [0, 4],
      [4, 4],
    ] as const) {
      for (const [N, K] of [
        [3, 16],
        [64, 64],
        [30, 1008],
      ] as const) {
        const w = randomFloats(N * K, seed++, seed % 2 ? 2 : 0);
        expect(firstDiff(await gpu.nmMask(w, N, K, { n, m }), nmMask(w, N, K, { n, m }))).toBe(-1);
        expect(firstDiff(await gpu.nmScoreMask(w, N, K, { n, m }), nmScoreMask(w, N, K, { n, m }))).toBe(-1);
      }
    }
  });

  it('refuses NaN and bad shapes with the same errors', async () => {
    const w = randomFloats(64, 3);
    w[9] = NaN;
    await expect(gpu.scoreMask(w, 4, 16, { sparsity: 0.5, scope: 'row' }, 'q')).rejects.toThrow('q: score at index 9 is NaN');
    await expect(gpu.nmMask(new Float32Array(2 * 172), 2, 172, { n: 4, m: 8 }, 'down')).rejects.toThrow(
      'down: input size K = 172 is not a multiple of M = 8',
    );
  });
});

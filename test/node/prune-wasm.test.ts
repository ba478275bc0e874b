import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { magnitudeMask, scoreMask } from '../../src/kernels/prune/magnitude.ts';
import { nmMask, nmScoreMask } from '../../src/kernels/prune/n-m.ts';
import { loadPruneWasm, type WasmPruneKernel } from '../../src/kernels/prune/wasm/prune-wasm.ts';
import { randomFloats } from '../seeded-random.ts';

/** First index where two masks differ, or -1 (toEqual on large typed arrays is very slow). */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

// The wasm is compiled from source here (asc from node_modules, nothing downloaded), into a
// temporary folder, so the test checks the current AssemblyScript source.
let dir = '';
let wasm: WasmPruneKernel;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prune-wasm-'));
  const out = join(dir, 'prune.wasm');
  execFileSync(
    process.execPath,
    [
      'node_modules/assemblyscript/bin/asc.js',
      'src/kernels/prune/wasm/assembly/prune.ts',
      '--outFile',
      out,
      '--enable',
      'simd',
      '-O3',
      '--noAssert',
      '--runtime',
      'stub',
    ],
    { stdio: 'inherit' },
  );
  wasm = await loadPruneWasm(readFileSync(out));
}, 300_000); // asc takes several seconds on a busy machine
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('prune.wasm matches the TypeScript kernels bit for bit', () => {
  const shapes: Array<[number, number]> = [
    [1, 1],
    [1, 7],
    [3, 5],
    [16, 64],
    [7, 172],
    [300, 1001],
  ]; // the last spans several chunks
  it('magnitude and score masks, row and tensor scope, random and tied', () => {
    let seed = 1;
    for (const [N, K] of shapes) {
      for (const levels of [0, 3]) {
        const w = randomFloats(N * K, seed++, levels);
        if (w.length > 3) w[2] = -0;
        for (const scope of ['row', 'tensor'] as const) {
          for (const sparsity of [0, 0.3, 0.5, 0.77, 1]) {
            expect(firstDiff(wasm.magnitudeMask(w, N, K, { sparsity, scope }), magnitudeMask(w, N, K, { sparsity, scope }))).toBe(-1);
            expect(firstDiff(wasm.scoreMask(w, N, K, { sparsity, scope }), scoreMask(w, N, K, { sparsity, scope }))).toBe(-1);
          }
        }
      }
    }
  });

  it('all-equal scores and extreme values', () => {
    const eq = new Float32Array(40).fill(0.25);
    expect(
      firstDiff(wasm.scoreMask(eq, 4, 10, { sparsity: 0.3, scope: 'row' }), scoreMask(eq, 4, 10, { sparsity: 0.3, scope: 'row' })),
    ).toBe(-1);
    const x = new Float32Array([1e-45, -3e38, Infinity, -1e-40, 0, 2, -Infinity, 1e-38, -0, 5]);
    for (const sparsity of [0.2, 0.5, 0.9]) {
      expect(firstDiff(wasm.scoreMask(x, 1, 10, { sparsity, scope: 'row' }), scoreMask(x, 1, 10, { sparsity, scope: 'row' }))).toBe(-1);
      expect(
        firstDiff(wasm.magnitudeMask(x, 2, 5, { sparsity, scope: 'tensor' }), magnitudeMask(x, 2, 5, { sparsity, scope: 'tensor' })),
      ).toBe(-1);
    }
  });

  it('N:M masks', () => {
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
        [300, 1008],
      ] as const) {
        const w = randomFloats(N * K, seed++, seed % 2 ? 2 : 0);
        expect(firstDiff(wasm.nmMask(w, N, K, { n, m }), nmMask(w, N, K, { n, m }))).toBe(-1);
        expect(firstDiff(wasm.nmScoreMask(w, N, K, { n, m }), nmScoreMask(w, N, K, { n, m }))).toBe(-1);
      }
    }
  });

  it('reports the first NaN and bad shapes with the same errors', () => {
    for (const at of [1, 6, 4999]) {
      const w = randomFloats(50 * 100, 9);
      w[at] = NaN;
      w[4999] = NaN;
      for (const scope of ['row', 'tensor'] as const) {
        expect(() => wasm.scoreMask(w, 50, 100, { sparsity: 0.5, scope }, 'q')).toThrow(`q: score at index ${at} is NaN`);
      }
      expect(() => wasm.nmMask(w, 50, 100, { n: 2, m: 4 }, 'q')).toThrow(`q: score at index ${at} is NaN`);
    }
    expect(() => wasm.nmMask(new Float32Array(2 * 172), 2, 172, { n: 4, m: 8 }, 'down')).toThrow(
      'down: input size K = 172 is not a multiple of M = 8',
    );
    expect(() => wasm.magnitudeMask(new Float32Array(5), 2, 2, { sparsity: 0.5, scope: 'row' })).toThrow(/expected 2\*2 = 4 values/);
  });
});

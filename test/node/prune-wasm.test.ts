import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { magnitudeMask, scoreMask } from '../../src/kernels/prune/magnitude.ts';
import { nmMask, nmScoreMask } from '../../src/kernels/prune/n-m.ts';
import { loadPruneWasm, type WasmPruneKernel } from '../../src/kernels/prune/wasm/prune-wasm.ts';
import { runPruneCases, type PruneBackend } from '../backend-cases-prune.ts';

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
    { stdio: 'inherit', timeout: 300_000 }, // synchronous: the hook's own bound cannot fire while it runs
  );
  wasm = await loadPruneWasm(readFileSync(out));
}, 300_000); // asc takes several seconds on a busy machine
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('prune.wasm matches the TypeScript kernels bit for bit', () => {
  // The case list (test/backend-cases-prune.ts) that the browser test also runs on WASM in Chromium and on WebGPU.
  it('every case of the shared list: masks, ties, extremes, N:M, and the same refusals', async () => {
    const backend: PruneBackend = {
      name: 'wasm (Node)',
      magnitudeMask: (...a) => wasm.magnitudeMask(...a),
      scoreMask: (...a) => wasm.scoreMask(...a),
      nmMask: (...a) => wasm.nmMask(...a),
      nmScoreMask: (...a) => wasm.nmScoreMask(...a),
    };
    expect(await runPruneCases(backend)).toEqual([]);
  });

  it('the list catches a backend one mask bit or one refusal away from the reference', async () => {
    const flipLast = (m: Uint8Array) => (m.length > 1 && (m[m.length - 1] ^= 1), m);
    const wrong: PruneBackend = {
      name: 'one bit off',
      magnitudeMask: (...a) => flipLast(magnitudeMask(...a)),
      scoreMask,
      nmMask: (w, N, K, o, what) => (w.some(Number.isNaN) ? new Uint8Array(N * K) : nmMask(w, N, K, o, what)), // masks NaN instead of refusing
      nmScoreMask,
    };
    const failures = await runPruneCases(wrong);
    expect(failures.some((f) => /^one bit off magnitudeMask .*: masks differ first at index \d+$/.test(f))).toBe(true);
    expect(
      failures.some((f) => /^one bit off nmMask NaN at 1 .*: reference refused: q: score at index 1 is NaN.*, backend masked$/.test(f)),
    ).toBe(true);
    expect(failures.filter((f) => / (scoreMask|nmScoreMask) /.test(f))).toEqual([]);
  });
});

import type { UnstructuredOptions } from '../src/kernels/prune/magnitude.ts';
import { magnitudeMask, scoreMask } from '../src/kernels/prune/magnitude.ts';
import type { NmOptions } from '../src/kernels/prune/n-m.ts';
import { nmMask, nmScoreMask } from '../src/kernels/prune/n-m.ts';
import { randomFloats } from './seeded-random.ts';

/**
 * The pruning masks' case list, run on every backend as test/backend-cases.ts runs the
 * quantizer's: the TypeScript kernels are the reference, and each backend (WASM SIMD in Node
 * and in Chromium, WebGPU) must give the same mask bit for bit (`bitExact`: the keep/drop
 * choice is a comparison of f32 keys with ties broken by index, with no arithmetic to round),
 * and refuse what the reference refuses with the same message.
 */
type Mask = Uint8Array | Promise<Uint8Array>;
export interface PruneBackend {
  name: string;
  magnitudeMask(w: Float32Array, N: number, K: number, o: UnstructuredOptions, what?: string): Mask;
  scoreMask(w: Float32Array, N: number, K: number, o: UnstructuredOptions, what?: string): Mask;
  nmMask(w: Float32Array, N: number, K: number, o: NmOptions, what?: string): Mask;
  nmScoreMask(w: Float32Array, N: number, K: number, o: NmOptions, what?: string): Mask;
}

type Kernel = keyof Omit<PruneBackend, 'name'>;
const reference: PruneBackend = { name: 'reference', magnitudeMask, scoreMask, nmMask, nmScoreMask };

export interface PruneCase {
  name: string;
  kernel: Kernel;
  w: Float32Array;
  N: number;
  K: number;
  o: UnstructuredOptions | NmOptions;
  what?: string;
  budget: 'bitExact';
}

/**
 * Every kernel over shapes from one value to several chunks, random and tied values, extremes,
 * and the inputs each must refuse. `maxValues` leaves out the tensors larger than that (WebGPU
 * on SwiftShader, a CPU emulating a GPU, takes seconds on the chunk-spanning ones).
 */
export function pruneCases({ maxValues = Infinity }: { maxValues?: number } = {}): PruneCase[] {
  const cases: PruneCase[] = [];
  const add = (kernel: Kernel, label: string, w: Float32Array, N: number, K: number, o: PruneCase['o'], what?: string) =>
    w.length > maxValues ||
    cases.push({
      name: `${kernel} ${label} ${N}x${K} ${JSON.stringify(o)}`,
      kernel,
      w,
      N,
      K,
      o,
      ...(what ? { what } : {}),
      budget: 'bitExact',
    });

  let seed = 1;
  for (const [N, K] of [
    [1, 1],
    [1, 7],
    [3, 5],
    [16, 64],
    [7, 172],
    [40, 300],
    [300, 1001], // spans several of the WASM kernel's chunks
  ] as const) {
    for (const levels of [0, 3]) {
      const w = randomFloats(N * K, seed++, levels);
      if (w.length > 3) w[2] = -0;
      for (const scope of ['row', 'tensor'] as const)
        for (const sparsity of [0, 0.3, 0.5, 0.77, 1])
          for (const kernel of ['magnitudeMask', 'scoreMask'] as const)
            add(kernel, levels ? 'tied' : 'random', w, N, K, { sparsity, scope });
    }
  }

  add('scoreMask', 'all equal', new Float32Array(40).fill(0.25), 4, 10, { sparsity: 0.3, scope: 'row' });
  const x = new Float32Array([1e-45, -3e38, Infinity, -1e-40, 0, 2, -Infinity, 1e-38, -0, 5]);
  for (const sparsity of [0.2, 0.5, 0.9]) {
    add('scoreMask', 'extremes', x, 1, 10, { sparsity, scope: 'row' });
    add('magnitudeMask', 'extremes', x, 2, 5, { sparsity, scope: 'tensor' });
  }

  seed = 50;
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
      for (const kernel of ['nmMask', 'nmScoreMask'] as const) add(kernel, 'random', w, N, K, { n, m });
    }
  }

  // Refusals: the first NaN wherever it lies, K not tiled by M, a length that is not N*K.
  for (const at of [1, 6, 4999]) {
    const w = randomFloats(50 * 100, 9);
    w[at] = NaN;
    w[4999] = NaN;
    for (const scope of ['row', 'tensor'] as const) add('scoreMask', `NaN at ${at}`, w, 50, 100, { sparsity: 0.5, scope }, 'q');
    add('nmMask', `NaN at ${at}`, w, 50, 100, { n: 2, m: 4 }, 'q');
  }
  add('nmMask', 'K not tiled', new Float32Array(2 * 172), 2, 172, { n: 4, m: 8 }, 'down');
  add('magnitudeMask', 'short', new Float32Array(5), 2, 2, { sparsity: 0.5, scope: 'row' });
  return cases;
}

/** First index where two masks differ, or -1 (toEqual on large typed arrays is very slow). */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

async function run(backend: PruneBackend, c: PruneCase): Promise<Uint8Array | Error> {
  try {
    // The unstructured and N:M kernels take their own options; a case holds the right kind for its kernel.
    const call = backend[c.kernel] as (w: Float32Array, N: number, K: number, o: PruneCase['o'], what?: string) => Mask;
    return await call(c.w, c.N, c.K, c.o, c.what);
  } catch (e) {
    return e as Error;
  }
}

/** Runs every case on `backend`; returns one line per case that differs from the reference (none when all agree). */
export async function runPruneCases(backend: PruneBackend, cases = pruneCases()): Promise<string[]> {
  const failures: string[] = [];
  for (const c of cases) {
    const ref = await run(reference, c);
    const got = await run(backend, c);
    const at = `${backend.name} ${c.name}`;
    if (ref instanceof Error || got instanceof Error) {
      const message = (x: Uint8Array | Error) => (x instanceof Error ? `refused: ${x.message}` : 'masked');
      if (message(ref) !== message(got)) failures.push(`${at}: reference ${message(ref)}, backend ${message(got)}`);
      continue;
    }
    const d = firstDiff(got, ref);
    if (d >= 0) failures.push(`${at}: masks differ first at index ${d}`);
  }
  return failures;
}

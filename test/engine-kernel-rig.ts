// Calls the CPU engine's kernels on test data in a heap of their own, for the kernel tests in
// Node (test/node/engine-kernels.test.ts) and in Chromium (test/browser/engine-simd.test.ts).
import { quantStrides } from '../src/engine/activations.ts';
import { createEngineInstance } from '../src/engine/cpu-model-loader.ts';
import type { EngineExports, EngineModules } from '../src/engine/engine-module.ts';
import type { EngineHeap } from '../src/engine/heap.ts';
import { nbitsRowReference, quantizeActsReference, type DenseArrays, type NBitsArrays } from '../src/engine/reference/kernels-reference.ts';
import { writeDescriptor } from '../src/engine/weight-layout.ts';
import { BUDGET } from './error-budgets.ts';
import { createRng } from './seeded-random.ts';

export interface KernelRig {
  heap: EngineHeap;
  exports: EngineExports;
  /** Copies `a` into a fresh heap block; its address. */
  put(a: ArrayBufferView): number;
  f32(at: number, n: number): Float32Array;
  i32(at: number, n: number): Int32Array;
  u8(at: number, n: number): Uint8Array;
}

export async function kernelRig(modules: EngineModules): Promise<KernelRig> {
  const { heap, exports } = await createEngineInstance(modules, false);
  return {
    heap,
    exports,
    put(a) {
      const at = heap.alloc(a.byteLength, 'test data');
      heap.u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
      return at;
    },
    f32: (at, n) => heap.f32.slice(at >> 2, (at >> 2) + n),
    i32: (at, n) => heap.i32.slice(at >> 2, (at >> 2) + n),
    u8: (at, n) => heap.u8.slice(at, at + n),
  };
}

/** Quantized activations of x [M, K] as the NBits kernel takes them for weight w. */
export interface RigActs {
  xq: number;
  ldq: number;
  xs: number;
  xsum: number;
  ldb: number;
  xs4: number;
  xsum4: number;
}

export function quantizeOnRig(rig: KernelRig, w: NBitsArrays, x: Float32Array, M: number): RigActs {
  const { ldq, ldb } = quantStrides(
    {
      kind: 'nbits',
      name: 'w',
      N: w.N,
      K: w.K,
      bits: w.bits as 4,
      blockSize: w.blockSize,
      codes: 0,
      scales: 0,
      zeroPoints: 0,
      bias: 0,
    },
    rig.exports.actBytes(),
  );
  const groups = Math.ceil(M / 4);
  const a: RigActs = {
    xq: rig.heap.alloc(M * ldq, 'xq'),
    ldq,
    ldb,
    xs: rig.heap.alloc(M * ldb * 4, 'xs'),
    xsum: rig.heap.alloc(M * ldb * 4, 'xsum'),
    xs4: rig.heap.alloc(groups * ldb * 16, 'xs4'),
    xsum4: rig.heap.alloc(groups * ldb * 16, 'xsum4'),
  };
  const tmp = rig.heap.alloc(ldq + 64, 'tmp');
  rig.exports.quantizeActs(
    rig.put(x),
    0,
    M,
    w.K,
    w.K,
    w.bits,
    w.blockSize,
    Math.ceil(w.K / w.blockSize),
    a.xq,
    ldq,
    a.xs,
    a.xsum,
    ldb,
    a.xs4,
    a.xsum4,
    tmp,
  );
  return a;
}

/** y [M, N] from the NBits kernel on quantized x [M, K]. */
export function nbitsOnRig(rig: KernelRig, w: NBitsArrays, x: Float32Array, M: number, bias: Float32Array | null): Float32Array {
  const wd = writeDescriptor(rig.heap, {
    kind: 'nbits',
    name: 'w',
    N: w.N,
    K: w.K,
    bits: w.bits as 2 | 4 | 8,
    blockSize: w.blockSize,
    codes: rig.put(w.codes),
    scales: rig.put(w.scales),
    zeroPoints: w.zeroPoints ? rig.put(w.zeroPoints) : 0,
    bias: bias ? rig.put(bias) : 0,
  });
  const a = quantizeOnRig(rig, w, x, M);
  const y = rig.heap.alloc(M * w.N * 4, 'y');
  rig.exports.nbitsGemm(wd, M, a.xq, a.ldq, a.xs, a.xsum, a.ldb, M >= 4 ? a.xs4 : 0, M >= 4 ? a.xsum4 : 0, y, w.N, 0, w.N);
  return rig.f32(y, M * w.N);
}

/** y [M, N] from the dense kernel. */
export function denseOnRig(rig: KernelRig, w: DenseArrays, x: Float32Array, M: number, bias: Float32Array | null): Float32Array {
  const wd = writeDescriptor(rig.heap, {
    kind: 'dense',
    name: 'w',
    N: w.N,
    K: w.K,
    dtype: w.values instanceof Uint16Array ? 'f16' : 'f32',
    layout: w.layout,
    data: rig.put(w.values),
    bias: bias ? rig.put(bias) : 0,
  });
  const y = rig.heap.alloc(M * w.N * 4, 'y');
  rig.exports.denseGemm(wd, M, rig.put(x), w.K, y, w.N, 0, w.N);
  return rig.f32(y, M * w.N);
}

/** A random MatMulNBits weight: uniform codes, scales in [0.01, 0.1), zero points when asymmetric. */
export function randomNBits(seed: number, bits: number, blockSize: number, N: number, K: number, asym: boolean): NBitsArrays {
  const r = createRng(seed);
  const blocks = Math.ceil(K / blockSize);
  const zpRow = Math.ceil((blocks * bits) / 8);
  return {
    bits,
    blockSize,
    N,
    K,
    codes: Uint8Array.from({ length: (N * blocks * blockSize * bits) / 8 }, () => Math.floor(r() * 256)),
    scales: Float32Array.from({ length: N * blocks }, () => 0.01 + 0.09 * r()),
    zeroPoints: asym ? Uint8Array.from({ length: N * zpRow }, () => Math.floor(r() * 256)) : null,
  };
}

/** Activations with the spread of real ones: mostly small, a few outliers, some exact zeros. */
export function randomActivations(seed: number, n: number): Float32Array {
  const r = createRng(seed);
  return Float32Array.from({ length: n }, (_, i) => (i % 17 === 3 ? 0 : (r() * 2 - 1) * (r() < 0.05 ? 8 : 1)));
}

/** The int-N formats (bits, block size) the builds are compared on, in every browser. */
export const NBITS_FORMATS: readonly [number, number][] = [
  [8, 32],
  [4, 16],
  [4, 32],
  [4, 128],
  [2, 16],
  [2, 32],
  [2, 64],
];

/**
 * One format's case: a 576-wide product, symmetric and not, 1 and 6 rows, on the relaxed and
 * the plain build. Returns what differs (none when all agree): the builds must give the same
 * bits, also after `tierUpCalls` more calls (the optimizing compiler has taken over), and stay
 * within BUDGET.engineF32Sums of the float64 reference.
 */
export function nbitsBuildsDiffer(relaxed: KernelRig, plain: KernelRig, bits: number, bs: number, tierUpCalls: number): string[] {
  const K = 576;
  const N = 16;
  const out: string[] = [];
  for (const asym of [false, true]) {
    const w = randomNBits(bits * 31 + bs, bits, bs, N, K, asym);
    for (const M of [1, 6]) {
      const at = `int${bits} g${bs}${asym ? ' asym' : ''} M=${M}`;
      const x = randomActivations(M + bs, M * K);
      const first = nbitsOnRig(relaxed, w, x, M, null);
      const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => Object.is(v, b[i]));
      if (!same(first, nbitsOnRig(plain, w, x, M, null))) out.push(`${at}: relaxed and plain differ`);
      let last = first;
      for (let i = 0; i < tierUpCalls; i++) last = nbitsOnRig(relaxed, w, x, M, null);
      if (!same(last, first)) out.push(`${at}: relaxed differs after ${tierUpCalls} calls`);
      const { y, magnitude } = nbitsRowReference(w, quantizeActsReference(x.subarray(0, K), K, bs), null);
      for (let n = 0; n < N; n++) {
        const err = Math.abs(first[n]! - y[n]!);
        if (!(err <= BUDGET.engineF32Sums * magnitude[n]! + 1e-30)) out.push(`${at} row ${n}: error ${err} over the budget`);
      }
    }
  }
  return out;
}

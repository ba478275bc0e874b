import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { floatToHalf, halfToFloat } from '../../src/kernels/half.ts';
import {
  dequantizedRows,
  denseGemmReference,
  nbitsRowReference,
  planeIndex,
  quantizeActsReference,
  type DenseArrays,
} from '../../src/engine/reference/kernels-reference.ts';
import { ATTENTION, GEMM, TASK, WEIGHT, WEIGHT_KIND } from '../../src/engine/task-layout.ts';
import { engineModulesNode } from '../../src/node/engine-node.ts';
import { denseOnRig, kernelRig, nbitsOnRig, quantizeOnRig, randomActivations, randomNBits, type KernelRig } from '../engine-kernel-rig.ts';
import { BUDGET } from '../error-budgets.ts';
import { randomFloats } from '../seeded-random.ts';

/**
 * The engine's matrix kernels against their scalar references (src/engine/reference/): the
 * activation quantizer bit for bit, the NBits and dense products within the f32-summation
 * budget, and the int8 activations within half a step per input of the exact product.
 * (Node 20 runs the plain-SIMD build; test/browser/engine-simd.test.ts compares the relaxed
 * one with it in Chromium.)
 */
let rig: KernelRig;
beforeAll(async () => {
  rig = await kernelRig(await engineModulesNode('plain'));
});

const FORMATS: [bits: number, blockSize: number][] = [
  [8, 16],
  [8, 32],
  [8, 128],
  [4, 16],
  [4, 32],
  [4, 64],
  [4, 256],
  [2, 16],
  [2, 32],
  [2, 64],
];
const WIDTHS = [64, 172, 576]; // stories260K's dim and FFN (not a whole number of blocks), SmolLM2's dim

describe('activation quantizer (acts.ts)', () => {
  it.each(FORMATS)('int%i weights, blocks of %i: codes in plane order, scales and sums bit for bit', (bits, bs) => {
    for (const K of WIDTHS) {
      const M = 6;
      const x = randomActivations(K + bits, M * K);
      const w = randomNBits(1, bits, bs, 1, K, false);
      const a = quantizeOnRig(rig, w, x, M);
      // i8 in the relaxed build, i16 in the plain one (Node 20 runs the plain build).
      const width = rig.exports.actBytes();
      const n = a.ldq / width;
      const bytes = rig.u8(a.xq, M * a.ldq).buffer;
      const xq = width === 1 ? new Int8Array(bytes) : new Int16Array(bytes);
      for (let t = 0; t < M; t++) {
        const ref = quantizeActsReference(x.subarray(t * K, (t + 1) * K), K, bs);
        const row = xq.subarray(t * n, (t + 1) * n);
        const expected = width === 1 ? new Int8Array(n) : new Int16Array(n);
        ref.q.forEach((q, k) => (expected[planeIndex(k, bits)] = q));
        expect(row).toEqual(expected);
        const blocks = ref.d.length;
        expect(rig.f32(a.xs + t * a.ldb * 4, blocks)).toEqual(ref.d);
        expect(rig.i32(a.xsum + t * a.ldb * 4, blocks)).toEqual(ref.sum);
        // The 4-token tile's copy: token t at [t/4, b, t%4].
        const g = (Math.floor(t / 4) * a.ldb * 4 + (t % 4)) * 4;
        for (let b = 0; b < blocks; b++) expect(rig.f32(a.xs4 + g + b * 16, 1)[0]).toBe(ref.d[b]);
      }
    }
  });
});

describe('NBits x int8 product (nbits.ts)', () => {
  it.each(FORMATS)('int%i, blocks of %i, symmetric and not, 1 and 6 tokens: within f32 summation of the reference', (bits, bs) => {
    for (const K of WIDTHS) {
      for (const asym of [false, true]) {
        const N = 9;
        const w = randomNBits(K * bits + bs, bits, bs, N, K, asym);
        const bias = asym ? randomFloats(N, 7) : null;
        for (const M of [1, 6]) {
          const x = randomActivations(K + M, M * K);
          const y = nbitsOnRig(rig, w, x, M, bias);
          for (let t = 0; t < M; t++) {
            const { y: want, magnitude } = nbitsRowReference(w, quantizeActsReference(x.subarray(t * K, (t + 1) * K), K, bs), bias);
            for (let n = 0; n < N; n++) {
              expect(Math.abs(y[t * N + n]! - want[n]!), `K ${K} ${asym ? 'asym' : 'sym'} M ${M} t ${t} n ${n}`).toBeLessThanOrEqual(
                BUDGET.engineF32Sums * (magnitude[n]! + Math.abs(bias?.[n] ?? 0)) + 1e-30,
              );
            }
          }
        }
      }
    }
  });

  it('int8 activations cost at most half a step per input against the exact product', () => {
    for (const [bits, bs] of FORMATS) {
      const K = 576;
      const w = randomNBits(bits * 1000 + bs, bits, bs, 5, K, true);
      const x = randomActivations(bs, K);
      const a = quantizeActsReference(x, K, bs);
      const { y } = nbitsRowReference(w, a, null);
      const dense = dequantizedRows(w);
      for (let n = 0; n < w.N; n++) {
        let exact = 0;
        let bound = 0;
        for (let k = 0; k < K; k++) {
          exact += dense[n * K + k]! * x[k]!;
          bound += (Math.abs(dense[n * K + k]!) * a.d[Math.floor(k / bs)]!) / 2;
        }
        expect(Math.abs(y[n]! - exact)).toBeLessThanOrEqual(bound * (1 + BUDGET.q8HalfStepSlack));
      }
    }
  });
});

describe('dense products (dense.ts)', () => {
  const shapes: [N: number, K: number][] = [
    [37, 70],
    [64, 64],
    [20, 17],
    [48, 576],
  ];
  it.each(['f32', 'f16'] as const)('%s weights, [N, K] and [K, N] layouts, 1 to 9 tokens, with and without bias', (dtype) => {
    for (const [N, K] of shapes) {
      for (const layout of ['nk', 'kn'] as const) {
        const f = randomFloats(N * K, N + K);
        const values = dtype === 'f32' ? f : Uint16Array.from(f, (v) => floatToHalf(v));
        const w: DenseArrays = { layout, N, K, values };
        for (const M of [1, 5, 9]) {
          const bias = M === 5 ? randomFloats(N, 3) : null;
          const x = randomFloats(M * K, M * 31 + K);
          const y = denseOnRig(rig, w, x, M, bias);
          const { y: want, magnitude } = denseGemmReference(w, x, M, bias);
          for (let i = 0; i < M * N; i++) {
            expect(Math.abs(y[i]! - want[i]!), `${layout} [${N}, ${K}] M ${M} i ${i}`).toBeLessThanOrEqual(
              BUDGET.engineF32Sums * magnitude[i]! + 1e-30,
            );
          }
        }
      }
    }
  });

  it('widens every f16 value exactly, subnormals, signed zeros and infinities included', () => {
    const halves = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0);
    const K = halves.length;
    const w: DenseArrays = { layout: 'nk', N: 1, K, values: halves };
    const at = rig.heap.alloc(K * 4, 'out');
    const ids = rig.put(new Int32Array([0]));
    rig.exports.embedDense(rig.put(halves), 1, K, ids, 1, at);
    const got = rig.f32(at, K);
    for (let k = 0; k < K; k++)
      expect(Object.is(got[k], Math.fround(halfToFloat(w.values[k]!))), `half 0x${halves[k]!.toString(16)}`).toBe(true);
  });
});

describe('layouts shared with the kernels', () => {
  it('task block, argument slots and weight descriptor match wasm/assembly/layout.ts', () => {
    const src = readFileSync(new URL('../../src/engine/wasm/assembly/layout.ts', import.meta.url), 'utf8');
    const value = (name: string) => Number(new RegExp(`export const ${name} = (\\d+);`).exec(src)?.[1]);
    expect([value('T_TICKET'), value('T_DONE'), value('T_OP'), value('T_PARTS'), value('T_FAILED'), value('T_ARGS')]).toEqual([
      TASK.ticket,
      TASK.done,
      TASK.op,
      TASK.parts,
      TASK.failed,
      TASK.args,
    ]);
    expect([value('OP_EXIT'), value('OP_GEMM'), value('OP_ATTENTION')]).toEqual([TASK.opExit, TASK.opGemm, TASK.opAttention]);
    const upper = (key: string) => key.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase(); // kvHeads -> KV_HEADS
    for (const [key, slot] of Object.entries(GEMM)) expect(value(`G_${upper(key)}`), key).toBe(slot);
    for (const [key, slot] of Object.entries(ATTENTION)) expect(value(`A_${upper(key)}`), key).toBe(slot);
    for (const [key, slot] of Object.entries(WEIGHT)) if (key !== 'bytes') expect(value(`W_${key.toUpperCase()}`), key).toBe(slot);
    expect([value('KIND_NBITS'), value('KIND_F32_NK'), value('KIND_F32_KN'), value('KIND_F16_NK'), value('KIND_F16_KN')]).toEqual([
      WEIGHT_KIND.nbits,
      WEIGHT_KIND.f32NK,
      WEIGHT_KIND.f32KN,
      WEIGHT_KIND.f16NK,
      WEIGHT_KIND.f16KN,
    ]);
  });
});

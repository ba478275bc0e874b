import { beforeAll, describe, expect, it } from 'vitest';
import { applyRope, causalAttention, rmsNorm, ropeTable, swiglu } from '../../src/model/reference-ops.ts';
import { gegluTanh } from '../../src/model/reference-layer-ops.ts';
import { ropeInverseFrequencies } from '../../src/model/rope-frequencies.ts';
import { dequantizeNBits } from '../../src/kernels/quantize/dequantize.ts';
import { quantizeRtnReference } from '../../src/kernels/quantize/rtn-reference.ts';
import { engineModulesNode } from '../../src/node/engine-node.ts';
import { kernelRig, type KernelRig } from '../engine-kernel-rig.ts';
import { BUDGET } from '../error-budgets.ts';
import { randomFloats } from '../seeded-random.ts';

/**
 * The engine's small kernels (attention.ts, elementwise.ts) against the fp32 reference
 * forward's ops (src/model/reference-ops.ts, float64 inside), and the embedding rows and KV
 * cache layout they read and write.
 */
let rig: KernelRig;
beforeAll(async () => {
  rig = await kernelRig(await engineModulesNode('plain'));
});

function expectClose(got: Float32Array, want: ArrayLike<number>, what: string): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++)
    expect(Math.abs(got[i]! - want[i]!), `${what} [${i}]`).toBeLessThanOrEqual(BUDGET.engineElementwise * scale);
}

describe('elementwise kernels', () => {
  it('RMSNorm, over widths with and without a SIMD tail', () => {
    for (const dim of [64, 70, 576]) {
      const T = 3;
      const x = randomFloats(T * dim, dim);
      const w = randomFloats(dim, dim + 1);
      const out = rig.heap.alloc(T * dim * 4, 'out');
      rig.exports.rmsNorm(rig.put(x), rig.put(w), T, dim, 1e-5, out);
      expectClose(rig.f32(out, T * dim), rmsNorm(x, w, T, dim, 1e-5), `dim ${dim}`);
    }
  });

  it('rotate-half RoPE on queries and keys (tables for positions 5.. as the forward pass builds them)', () => {
    for (const [heads, hd] of [
      [8, 8],
      [3, 64],
      [2, 6],
    ] as const) {
      const T = 4;
      const start = 5;
      const x = randomFloats(T * heads * hd, hd);
      const rope = ropeTable(start, T, ropeInverseFrequencies({ headDim: hd, ropeTheta: 10000 }));
      const at = rig.put(x);
      rig.exports.rope(at, T, heads * hd, heads, hd, rig.put(Float32Array.from(rope.cos)), rig.put(Float32Array.from(rope.sin)));
      const want = Float32Array.from(x);
      applyRope(want, T, heads, hd, rope);
      expectClose(rig.f32(at, x.length), want, `heads ${heads} hd ${hd}`);
    }
  });

  it('SwiGLU and GeGLU (tanh GELU) over a column range, and the residual add', () => {
    const T = 3;
    const n = 20;
    const g = randomFloats(T * n, 1);
    const u = randomFloats(T * n, 2);
    const ga = rig.put(g);
    rig.exports.siluMul(ga, rig.put(u), T, n, 0, n);
    expectClose(rig.f32(ga, T * n), swiglu(Float32Array.from(g), u), 'swiglu');
    // Gemma's GeGLU (f32 Mathf.tanh) against the float64 reference, over the whole range and over a column range.
    const gg = rig.put(g.map((v) => 4 * v));
    rig.exports.geluTanhMul(gg, rig.put(u), T, n, 0, n);
    expectClose(
      rig.f32(gg, T * n),
      gegluTanh(
        g.map((v) => 4 * v),
        u,
      ),
      'geglu tanh',
    );
    const part = rig.put(g);
    rig.exports.geluTanhMul(part, rig.put(u), T, n, 3, n - 2);
    const want = Float32Array.from(g);
    const full = gegluTanh(Float32Array.from(g), u);
    for (let t = 0; t < T; t++) for (let j = 3; j < n - 2; j++) want[t * n + j] = full[t * n + j]!;
    expectClose(rig.f32(part, T * n), want, 'geglu tanh, columns 3..n-2');
    const xa = rig.put(g);
    rig.exports.addInPlace(xa, rig.put(u), T * n);
    expectClose(
      rig.f32(xa, T * n),
      g.map((v, i) => v + u[i]!),
      'add',
    );
  });
});

describe('attention over the KV cache', () => {
  it.each([
    [8, 4, 8],
    [9, 3, 64],
    [4, 2, 6],
    [9, 3, 64, 4], // a sliding window of 4 positions (Mistral v0.1, Phi-3)
  ])('%i heads, %i KV heads, head size %i, window %s: cached positions then new ones, causal', (heads, kvHeads, hd, window?: number) => {
    const T = 5;
    const start = 3;
    const cap = 16;
    const ctx = start + T;
    const q = randomFloats(T * heads * hd, heads);
    const keys = randomFloats(kvHeads * cap * hd, hd); // [kvHeads, cap, hd]
    const values = randomFloats(kvHeads * cap * hd, hd + 1);
    const out = rig.heap.alloc(T * heads * hd * 4, 'out');
    const scratch = rig.heap.alloc((ctx + 4) * 4, 'scratch');
    rig.exports.attention(
      rig.put(q),
      T,
      start,
      heads,
      kvHeads,
      hd,
      rig.put(keys),
      rig.put(values),
      cap,
      out,
      1 / Math.sqrt(hd),
      scratch,
      0,
      T * heads,
      window ?? 0,
    );
    // The reference's cache is transposed: [kvHeads*hd, cap].
    const keysT = new Float32Array(kvHeads * hd * cap);
    const valuesT = new Float32Array(kvHeads * hd * cap);
    for (let h = 0; h < kvHeads; h++) {
      for (let s = 0; s < cap; s++) {
        for (let d = 0; d < hd; d++) {
          keysT[(h * hd + d) * cap + s] = keys[(h * cap + s) * hd + d]!;
          valuesT[(h * hd + d) * cap + s] = values[(h * cap + s) * hd + d]!;
        }
      }
    }
    const want = causalAttention(q, keysT, valuesT, cap, { T, start, numHeads: heads, numKvHeads: kvHeads, headDim: hd, window });
    expectClose(rig.f32(out, T * heads * hd), want, 'attention');
  });

  it('appends keys and values at their positions of a [kvHeads, capacity, hd] cache', () => {
    const [T, kvHeads, hd, cap, start] = [2, 3, 4, 8, 5];
    const k = randomFloats(T * kvHeads * hd, 1);
    const v = randomFloats(T * kvHeads * hd, 2);
    const keys = rig.heap.alloc(kvHeads * cap * hd * 4, 'keys');
    const values = rig.heap.alloc(kvHeads * cap * hd * 4, 'values');
    rig.exports.storeKV(rig.put(k), rig.put(v), T, kvHeads, hd, keys, values, cap, start);
    const gotK = rig.f32(keys, kvHeads * cap * hd);
    const gotV = rig.f32(values, kvHeads * cap * hd);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < kvHeads; h++) {
        for (let d = 0; d < hd; d++) {
          expect(gotK[(h * cap + start + t) * hd + d]).toBe(k[(t * kvHeads + h) * hd + d]);
          expect(gotV[(h * cap + start + t) * hd + d]).toBe(v[(t * kvHeads + h) * hd + d]);
        }
      }
    }
    expect(gotK.subarray(0, start * hd).every((x) => x === 0)).toBe(true); // earlier positions untouched
  });
});

describe('embedding rows', () => {
  it.each([
    [4, 32, true],
    [8, 16, false],
    [2, 64, true],
  ])('GatherBlockQuantized rows of int%i blocks of %i (asymmetric %s) equal the dequantized table', (bits, bs, asym) => {
    const [vocab, dim] = [11, 128];
    const table = randomFloats(vocab * dim, bits);
    const q = quantizeRtnReference(table, vocab, dim, { bits, blockSize: bs, symmetric: !asym, scaleDtype: 'f32', name: 'emb' });
    const dense = dequantizeNBits(q, vocab, dim, { bits, blockSize: bs });
    const ids = [3, 0, 10, 3];
    const out = rig.heap.alloc(ids.length * dim * 4, 'out');
    const zpRow = Math.ceil(((dim / bs) * bits) / 8);
    rig.exports.embedNBits(
      rig.put(q.packed),
      rig.put(q.scales as Float32Array),
      q.zeroPoints ? rig.put(q.zeroPoints) : 0,
      zpRow,
      bits,
      bs,
      dim,
      rig.put(Int32Array.from(ids)),
      ids.length,
      out,
    );
    const got = rig.f32(out, ids.length * dim);
    ids.forEach((id, t) => expect(got.subarray(t * dim, (t + 1) * dim)).toEqual(dense.subarray(id * dim, (id + 1) * dim)));
  });

  it('f32 rows are copied as stored', () => {
    const [vocab, dim] = [7, 70];
    const table = randomFloats(vocab * dim, 9);
    const out = rig.heap.alloc(2 * dim * 4, 'out');
    rig.exports.embedDense(rig.put(table), 0, dim, rig.put(Int32Array.from([6, 1])), 2, out);
    expect(rig.f32(out, 2 * dim)).toEqual(Float32Array.from([...table.subarray(6 * dim, 7 * dim), ...table.subarray(dim, 2 * dim)]));
  });
});

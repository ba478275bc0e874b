import { beforeAll, describe, expect, it } from 'vitest';
import { ensureWasm } from '../../scripts/build-wasm.ts';
import { referenceCalibBackend, wasmCalibBackend, type CalibBackend } from '../../src/compress/calib-backend.ts';
import { BlockRunner } from '../../src/compress/block-runner.ts';
import { inverseHessianFactor } from '../../src/kernels/calib/cholesky.ts';
import { runGptq } from '../../src/kernels/calib/gptq.ts';
import { gptqReferenceKernel } from '../../src/kernels/calib/gptq-reference.ts';
import type { WasmCalibKernel } from '../../src/kernels/calib/wasm/calib-wasm.ts';
import { satisfiesNm } from '../../src/kernels/prune/index.ts';
import { dequantizeCodes, rtnCodes } from '../../src/kernels/quantize/nbits-codes.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { widenMatrix, widenRows } from '../../src/model/reference-half.ts';
import { widenLayer } from '../../src/model/reference-weights.ts';
import { linear, rmsNorm, ropeTable } from '../../src/model/reference-ops.ts';
import { ropeInverseFrequencies } from '../../src/model/rope-frequencies.ts';
import { loadCalibWasmNode } from '../../src/node/kernel-wasm-node.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { BUDGET } from '../error-budgets.ts';
import { lcgRng, randomFloats } from '../seeded-random.ts';
import { STORIES_DIR } from './fixture-paths.ts';

/**
 * The calibration kernels: the WASM SIMD block forward pieces (linear, Gram, cross, causal
 * attention) against their float64 references within named budgets; the inverse-Hessian
 * factor; and the GPTQ / SparseGPT loop's defining properties, in both implementations.
 */
let kernel: WasmCalibKernel;
let wasm: CalibBackend;
beforeAll(async () => {
  ensureWasm();
  kernel = await loadCalibWasmNode();
  wasm = wasmCalibBackend(kernel);
});

function relDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i]! - want[i]!));
    m = Math.max(m, Math.abs(want[i]!));
  }
  expect(got.length).toBe(want.length);
  return d / m;
}

describe('WASM SIMD products match the float64 references', () => {
  it.each([
    [7, 64, 32],
    [13, 172, 129], // odd token count, input and output not multiples of 4 or 8
    [4, 96, 8],
  ])('linear x [%i, %i] · Wᵀ (W [%i, K]), with a bias', async (T, K, N) => {
    const x = randomFloats(T * K, 1);
    const w = randomFloats(N * K, 2);
    const bias = randomFloats(N, 3);
    expect(relDiff(await wasm.linear(x, T, w, N, K, bias), linear(x, w, bias, T, K, N))).toBeLessThan(BUDGET.calibProductRelative);
  });

  it.each([
    [9, 64],
    [31, 172],
  ])('Gram xᵀx and cross aᵀb of [%i, %i]', async (T, K) => {
    const x = randomFloats(T * K, 4);
    const y = randomFloats(T * K, 5);
    expect(relDiff(await wasm.gram(x, T, K), await referenceCalibBackend.gram(x, T, K))).toBeLessThan(BUDGET.calibProductRelative);
    expect(relDiff(await wasm.cross(x, y, T, K), await referenceCalibBackend.cross(x, y, T, K))).toBeLessThan(BUDGET.calibProductRelative);
    const g = await wasm.gram(x, T, K);
    for (let i = 0; i < K; i++) for (let j = 0; j < i; j++) expect(g[i * K + j]).toBe(g[j * K + i]); // exactly symmetric
  });

  it.each([
    [37, 8, 4, 8], // stories260K's heads
    [21, 6, 3, 64],
    [5, 4, 2, 6], // a head size that is not a multiple of 4
  ])('causal grouped-query attention, T=%i, %i heads over %i KV heads of %i', async (T, H, KV, hd) => {
    const q = randomFloats(T * H * hd, 6);
    const k = randomFloats(T * KV * hd, 7);
    const v = randomFloats(T * KV * hd, 8);
    const s = { T, numHeads: H, numKvHeads: KV, headDim: hd };
    expect(relDiff(await wasm.attention(q, k, v, s), await referenceCalibBackend.attention(q, k, v, s))).toBeLessThan(
      BUDGET.calibAttentionRelative,
    );
  });

  it('attention with scores far apart: softmax terms beyond exp’s fast range (|x| ≥ 88) and ones that underflow to 0', async () => {
    // Scores from about -300 to 300: exp(score - max) meets arguments past -88 and -104 (0) in
    // most rows, which the four-lane exp hands to the scalar one.
    const [T, H, KV, hd] = [29, 4, 2, 8];
    const q = randomFloats(T * H * hd, 9).map((x) => x * 40);
    const k = randomFloats(T * KV * hd, 10).map((x) => x * 10);
    const v = randomFloats(T * KV * hd, 11);
    const s = { T, numHeads: H, numKvHeads: KV, headDim: hd };
    const got = await wasm.attention(q, k, v, s);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(relDiff(got, await referenceCalibBackend.attention(q, k, v, s))).toBeLessThan(BUDGET.calibAttentionRelative);
  });

  it('sliding-window attention (Mistral v0.1, Phi-3): each position sees the last 5, and the window changes the result', async () => {
    const [T, H, KV, hd] = [21, 6, 3, 64];
    const q = randomFloats(T * H * hd, 6);
    const k = randomFloats(T * KV * hd, 7);
    const v = randomFloats(T * KV * hd, 8);
    const s = { T, numHeads: H, numKvHeads: KV, headDim: hd, window: 5 };
    const got = await wasm.attention(q, k, v, s);
    expect(relDiff(got, await referenceCalibBackend.attention(q, k, v, s))).toBeLessThan(BUDGET.calibAttentionRelative);
    const whole = await referenceCalibBackend.attention(q, k, v, { T, numHeads: H, numKvHeads: KV, headDim: hd });
    expect(relDiff(got, whole)).toBeGreaterThan(100 * BUDGET.calibAttentionRelative);
  });

  it('the calibration forward (block runner, WASM kernels) through stories260K gives the reference forward pass logits', async () => {
    const { ir } = await loadModelFolder(STORIES_DIR);
    const c = ir.config;
    const ref = await ReferenceModel.load(ir);
    const ids = [1, ...Array.from({ length: 40 }, (_, i) => 3 + ((i * 37) % 500))];
    const want = await ref.forward(ref.createState(), ids);
    const dim = c.hiddenSize;
    const x = [new Float32Array(ids.length * dim)];
    ids.forEach((id, t) => x[0]!.set(widenRows(ref.weights.embedding, id, id + 1, dim), t * dim));
    for (let l = 0; l < c.numLayers; l++) {
      await new BlockRunner(wasm, c, widenLayer(ref.weights.layers[l]!), x, ropeTable(0, ids.length, ropeInverseFrequencies(c))).pass(
        'out',
      );
    }
    const xf = rmsNorm(x[0]!, ref.weights.finalNorm, ids.length, dim, c.rmsNormEps);
    const got = linear(xf, widenMatrix(ref.weights.classifier), null, ids.length, dim, c.vocabSize);
    expect(relDiff(got, want)).toBeLessThan(BUDGET.calibForwardRelative);
  });
});

/** A Hessian of correlated inputs (channels mixed, a few loud ones), and weights, seeded. */
function layer(N: number, K: number, T: number, seed: number): { w: Float32Array; h: Float64Array } {
  const r = lcgRng(seed);
  const mix = Float64Array.from({ length: K * K }, () => r());
  const h = new Float64Array(K * K);
  const x = new Float64Array(K);
  for (let t = 0; t < T; t++) {
    const z = Float64Array.from({ length: K }, (_, k) => r() * (k % 7 === 0 ? 8 : 1));
    for (let i = 0; i < K; i++) {
      let s = z[i]!;
      for (let j = 0; j < K; j++) s += 0.3 * mix[i * K + j]! * z[j]!;
      x[i] = s;
    }
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) h[i * K + j]! += (x[i]! * x[j]!) / T;
  }
  return { w: Float32Array.from({ length: N * K }, () => r()), h };
}

/** The layer's output error Σ_n ΔW_n H ΔW_nᵀ. */
function outputError(w: Float32Array, q: Float32Array, h: Float64Array, N: number, K: number): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < K; i++) {
      const di = q[n * K + i]! - w[n * K + i]!;
      let s = 0;
      for (let j = 0; j < K; j++) s += h[i * K + j]! * (q[n * K + j]! - w[n * K + j]!);
      loss += di * s;
    }
  }
  return loss;
}

describe('the inverse-Hessian factor', () => {
  it('UᵀU is (H + λI)⁻¹ with U upper triangular; a dead input is set aside', () => {
    const K = 24;
    const { h } = layer(4, K, 200, 9);
    for (let j = 0; j < K; j++) h[5 * K + j] = h[j * K + 5] = 0; // input 5 never active
    const { u, dead, damp } = inverseHessianFactor(h, K);
    expect(Array.from(dead).indexOf(1)).toBe(5);
    for (let i = 0; i < K; i++) for (let j = 0; j < i; j++) expect(u[i * K + j]).toBe(0);
    const hd = Float64Array.from(h, (v, i) => (Math.floor(i / K) === i % K ? (i % K === 5 ? 1 : v) + damp : v));
    let worst = 0;
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        let s = 0; // (UᵀU · H_d)[i, j]
        for (let k = 0; k < K; k++) {
          let inv = 0;
          for (let r = 0; r <= Math.min(i, k); r++) inv += u[r * K + i]! * u[r * K + k]!;
          s += inv * hd[k * K + j]!;
        }
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(BUDGET.inverseFactor);
  });
});

describe('GPTQ and SparseGPT', () => {
  const quant = { bits: 4, blockSize: 32, symmetric: false };

  it('with H = I and no range search GPTQ is round-to-nearest, code for code', () => {
    const N = 40,
      K = 96;
    const { w } = layer(N, K, 10, 10);
    const identity = Float64Array.from({ length: K * K }, (_, i) => (Math.floor(i / K) === i % K ? 1 : 0));
    const rtn = rtnCodes(w, N, K, quant);
    for (const k of [gptqReferenceKernel, kernel.gptq]) {
      const g = runGptq(w, identity, N, K, { quant, rangeSearch: false }, k);
      expect(Buffer.from(g.codes!.codes).equals(Buffer.from(rtn.codes))).toBe(true);
      expect(Array.from(g.codes!.scales)).toEqual(Array.from(rtn.scales));
    }
  });

  it('cuts the output error well below round-to-nearest; activation order and range search cut it more; WASM agrees with the reference', () => {
    const N = 48,
      K = 160; // two column blocks of 128 (the second partial)
    const { w, h } = layer(N, K, 600, 11);
    const rtn = outputError(w, dequantizeCodes(rtnCodes(w, N, K, quant), N, K, 32), h, N, K);
    const plain = runGptq(w, h, N, K, { quant, rangeSearch: false });
    const ref = runGptq(w, h, N, K, { quant });
    const fast = runGptq(w, h, N, K, { quant }, kernel.gptq);
    const act = runGptq(w, h, N, K, { quant, actOrder: true }, kernel.gptq);
    const e = (r: { weight: Float32Array }) => outputError(w, r.weight, h, N, K);
    expect(e(plain)).toBeLessThan(0.7 * rtn);
    expect(e(ref)).toBeLessThan(e(plain));
    expect(e(act)).toBeLessThan(e(plain));
    expect(Math.abs(e(fast) - e(ref)) / e(ref)).toBeLessThan(BUDGET.gptqLossRelative);
    // The weights the loop settles on are exactly what its codes dequantize to.
    expect(Array.from(dequantizeCodes(fast.codes!, N, K, 32))).toEqual(Array.from(fast.weight));
  });

  it('SparseGPT prunes exactly the asked share (unstructured, per column block) or the N:M pattern, and beats magnitude', () => {
    const N = 32,
      K = 64;
    const { w, h } = layer(N, K, 400, 12);
    for (const k of [gptqReferenceKernel, kernel.gptq]) {
      const u = runGptq(w, h, N, K, { quant: null, sparsegpt: { kind: 'unstructured', sparsity: 0.5 } }, k);
      expect(u.weight.filter((v) => v === 0).length).toBe((N * K) / 2);
      expect(Array.from(u.keep!).every((keep, i) => keep === 1 || u.weight[i] === 0)).toBe(true);
      const nm = runGptq(w, h, N, K, { quant, sparsegpt: { kind: 'nm', n: 2, m: 4 } }, k);
      expect(satisfiesNm(nm.weight, N, K, { n: 2, m: 4 })).toBe(true);
      // Magnitude 2:4 of the same weights, no error feedback:
      const mag = Float32Array.from(w);
      for (let g = 0; g < N * K; g += 4) {
        const order = [0, 1, 2, 3].sort((a, b) => Math.abs(w[g + a]!) - Math.abs(w[g + b]!) || a - b);
        mag[g + order[0]!] = 0;
        mag[g + order[1]!] = 0;
      }
      const sparseOnly = runGptq(w, h, N, K, { quant: null, sparsegpt: { kind: 'nm', n: 2, m: 4 } }, k);
      expect(outputError(w, sparseOnly.weight, h, N, K)).toBeLessThan(0.8 * outputError(w, mag, h, N, K));
    }
  });

  it('a fixed mask (Wanda, magnitude) is kept: pruned weights are exactly 0 and code to the zero point', () => {
    const N = 16,
      K = 64;
    const { w, h } = layer(N, K, 300, 13);
    const keep = Uint8Array.from({ length: N * K }, (_, i) => ((i * 7919) % 3 === 0 ? 0 : 1));
    const r = runGptq(w, h, N, K, { quant, keep }, kernel.gptq);
    for (let i = 0; i < N * K; i++) {
      if (keep[i]) continue;
      expect(r.weight[i]).toBe(0);
      expect(r.codes!.codes[i]).toBe(r.codes!.zeros[Math.floor(i / K) * 2 + Math.floor((i % K) / 32)]);
    }
  });
});

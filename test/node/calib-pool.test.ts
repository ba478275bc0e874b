import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWasm } from '../../scripts/build-wasm.ts';
import { wasmCalibBackend } from '../../src/compress/calib-backend.ts';
import { calibrationWindows } from '../../src/compress/calibration-windows.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import type { CalibPool } from '../../src/kernels/calib/wasm/calib-pool.ts';
import { prepareWeight, type WasmCalibKernel } from '../../src/kernels/calib/wasm/calib-wasm.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { createCalibPoolNode } from '../../src/node/calib-pool-node.ts';
import { loadCalibWasmNode } from '../../src/node/kernel-wasm-node.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { randomFloats } from '../seeded-random.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';

// Error budget: none. Each output value comes from one worker through the kernel's own loop,
// so a pool of any size gives the kernel's bits (what lets the CLI and the page agree).

let kernel: WasmCalibKernel;
let pool: CalibPool;
beforeAll(async () => {
  ensureWasm();
  kernel = await loadCalibWasmNode();
  pool = await createCalibPoolNode(3); // an odd split on purpose
});
afterAll(() => pool.close());

const same = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('the calibration worker pool', () => {
  it.each([
    [37, 576, 1536],
    [5, 172, 129],
    [64, 64, 8], // fewer columns than workers' shares
  ])('linear [%i, %i] · Wᵀ (N=%i): the same bits as the kernel alone', async (T, K, N) => {
    const x = randomFloats(T * K, 1);
    const w = prepareWeight(randomFloats(N * K, 2), N, K);
    expect(same(await pool.matmul(x, T, w), kernel.matmul(x, T, w))).toBe(true);
    expect(same(await pool.matmul(randomFloats(T * K, 3), T, w), kernel.matmul(randomFloats(T * K, 3), T, w))).toBe(true); // the weight kept by the workers
  });

  it.each([
    [33, 172],
    [9, 576],
  ])('Gram and cross products of [%i, %i]: the same bits', async (T, K) => {
    const x = randomFloats(T * K, 4);
    const y = randomFloats(T * K, 5);
    expect(same(await pool.gram(x, null, T, K), kernel.gram(x, T, K))).toBe(true);
    expect(same(await pool.gram(x, y, T, K), kernel.cross(x, y, T, K))).toBe(true);
  });

  it('attention split by KV heads: the same bits', async () => {
    const s = { T: 45, numHeads: 9, numKvHeads: 3, headDim: 64 };
    const q = randomFloats(s.T * 9 * 64, 6);
    const k = randomFloats(s.T * 3 * 64, 7);
    const v = randomFloats(s.T * 3 * 64, 8);
    expect(same(await pool.attention(q, k, v, s), kernel.attention(q, k, v, s))).toBe(true);
  });

  it('a calibrated compression of stories260K writes the same bytes with the pool as without', async () => {
    const { ir, tokenizerJson, tokenizerConfig } = await loadModelFolder(STORIES_DIR);
    const tokenizer = new TextTokenizer(tokenizerJson, tokenizerConfig, ir.config);
    const text = readFileSync(fixtureTextPath('tinystories_calibration.txt'), 'utf8');
    const { windows } = calibrationWindows(text, (d) => tokenizer.encode(d, { addBos: true }), { windowLength: 512, count: 4, seed: 0 });
    const quantizer = await createRtnQuantizer();
    const run = async (p?: CalibPool) =>
      (
        await compressModel(ir, planCompression(parseRecipe('ffn25+gptq-int4-g32'), ir.config, { calibrationText: true }), {
          quantizer,
          calibration: { windows, backend: wasmCalibBackend(kernel, p) },
        })
      ).built.model;
    expect(Buffer.from(await run(pool)).equals(Buffer.from(await run()))).toBe(true);
  });
});

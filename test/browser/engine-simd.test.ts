import { beforeAll, describe, expect, inject, it } from 'vitest';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { fetchEngineWasm } from '../../src/engine/browser-engine.ts';
import type { CpuCausalLM } from '../../src/engine/cpu-causal-lm.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import { compileEngine, type EngineModules } from '../../src/engine/engine-module.ts';
import { browserThreadSpawner, helperThreadsFor } from '../../src/engine/engine-threads.ts';
import { nbitsRowReference, quantizeActsReference } from '../../src/engine/reference/kernels-reference.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { argmax } from '../../src/runtime/sampler.ts';
import { kernelRig, nbitsOnRig, randomActivations, randomNBits, type KernelRig } from '../engine-kernel-rig.ts';
import { BUDGET } from '../error-budgets.ts';
import { hubModel } from './hub-model.ts';

/**
 * The engine's relaxed-SIMD build in Chromium (which validates it; Node 20 runs the plain
 * one) against the plain build: the integer block sums are exact either way, so every
 * product, and every logit of a whole model, must be bit for bit the same, also after the
 * optimizing compiler has taken over the hot loops. Threads in a page (helpers as blob:
 * workers, the main thread spinning instead of Atomics.wait) must not change a bit either.
 */
const hubUrl = inject('hubUrl');
let plain: EngineModules;
let relaxed: EngineModules;
let plainRig: KernelRig;
let relaxedRig: KernelRig;
let stories: ModelIR;
beforeAll(async () => {
  plain = await compileEngine(fetchEngineWasm, { simd: 'plain' });
  relaxed = await compileEngine(fetchEngineWasm);
  plainRig = await kernelRig(plain);
  relaxedRig = await kernelRig(relaxed);
  stories = (await hubModel(hubUrl, 'test-org/stories260K')).ir;
});

const FORMATS: [number, number][] = [
  [8, 32],
  [4, 16],
  [4, 32],
  [4, 128],
  [2, 16],
  [2, 32],
  [2, 64],
];

describe('relaxed SIMD in Chromium', () => {
  it('is what Chromium validates, so the app takes it', () => {
    expect(relaxed.simd).toBe('relaxed');
    expect(plain.simd).toBe('plain');
  });

  it.each(FORMATS)(
    'int%i blocks of %i: relaxed and plain products are identical and within the reference budget, before and after tier-up',
    (bits, bs) => {
      const K = 576;
      const N = 16;
      for (const asym of [false, true]) {
        const w = randomNBits(bits * 31 + bs, bits, bs, N, K, asym);
        for (const M of [1, 6]) {
          const x = randomActivations(M + bs, M * K);
          const first = nbitsOnRig(relaxedRig, w, x, M, null);
          expect(first).toEqual(nbitsOnRig(plainRig, w, x, M, null));
          // Enough calls for V8 to recompile the loops with its optimizing tier.
          let last = first;
          for (let i = 0; i < 300; i++) last = nbitsOnRig(relaxedRig, w, x, M, null);
          expect(last).toEqual(first);
          const { y, magnitude } = nbitsRowReference(w, quantizeActsReference(x.subarray(0, K), K, bs), null);
          for (let n = 0; n < N; n++) expect(Math.abs(first[n]! - y[n]!)).toBeLessThanOrEqual(BUDGET.engineF32Sums * magnitude[n]! + 1e-30);
        }
      }
    },
  );
});

describe('stories260K int4-g32 in the page', () => {
  async function model(modules: EngineModules, threads: number): Promise<CpuCausalLM> {
    const r = await compressModel(stories, planCompression(parseRecipe('int4-g32'), stories.config), {
      quantizer: await createRtnQuantizer(),
    });
    const m = await (
      await CpuModelLoader.create(modules, { threads })
    ).fromGraph(r.config, { name: 'int4-g32', model: r.built.model, externalData: [] });
    if ('unsupported' in m) throw new Error(m.unsupported);
    return m;
  }

  /** Logits of a prefill and 12 greedy steps. */
  async function run(m: CpuCausalLM): Promise<Float32Array[]> {
    const s = m.createState();
    const out = [await m.forward(s, [1, 403, 407, 261, 378, 300, 301])];
    for (let i = 0; i < 12; i++) out.push(await m.forward(s, [argmax(out.at(-1)!.subarray(-m.config.vocabSize))]));
    await m.dispose();
    return out;
  }

  it('relaxed and plain builds give the same logits, bit for bit; two threads in the page give them too', async () => {
    const a = await run(await model(plain, 1));
    expect(await run(await model(relaxed, 1))).toEqual(a);
    const two = await model(relaxed, 2);
    expect(two.info.threads).toBe(crossOriginIsolated ? 2 : 1);
    expect(await run(two)).toEqual(a);
  });

  it("a second engine reuses the first one's helper threads (none started), a bigger one starts only the extra, logits unchanged", async () => {
    if (!crossOriginIsolated) return; // no shared memory, no helpers
    const pool = helperThreadsFor(browserThreadSpawner()!);
    const a = await run(await model(relaxed, 2)); // its helper goes back to the pool when run() disposes it
    const started = pool.started;
    expect(await run(await model(relaxed, 2))).toEqual(a);
    expect(pool.started).toBe(started);
    expect(await run(await model(relaxed, 3))).toEqual(a);
    expect(pool.started).toBe(started + 1);
  });
});

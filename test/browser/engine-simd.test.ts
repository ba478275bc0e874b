import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fetchEngineWasm } from '../../src/engine/browser-engine.ts';
import { compileEngine, type EngineModules } from '../../src/engine/engine-module.ts';
import { browserThreadSpawner, helperThreadsFor } from '../../src/engine/engine-threads.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { greedyLogits, int4Graph, openGraph, type BuiltGraph } from '../engine-page-model.ts';
import { kernelRig, NBITS_FORMATS, nbitsBuildsDiffer, type KernelRig } from '../engine-kernel-rig.ts';
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

describe('relaxed SIMD in Chromium', () => {
  it('is what Chromium validates, so the app takes it', () => {
    expect(relaxed.simd).toBe('relaxed');
    expect(plain.simd).toBe('plain');
  });

  it.each(NBITS_FORMATS)(
    'int%i blocks of %i: relaxed and plain products are identical and within the reference budget, before and after tier-up',
    (bits, bs) => expect(nbitsBuildsDiffer(relaxedRig, plainRig, bits, bs, 300)).toEqual([]),
  );
});

describe('stories260K int4-g32 in the page', () => {
  let graph: BuiltGraph;
  beforeAll(async () => {
    graph = await int4Graph(stories);
  });
  const model = (modules: EngineModules, threads: number) => openGraph(modules, threads, graph);
  const run = greedyLogits;

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

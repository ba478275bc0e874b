import { fetchEngineWasm } from '../../src/engine/browser-engine.ts';
import { compileEngine } from '../../src/engine/engine-module.ts';
import { createQuantizePoolBrowser } from '../../src/kernels/quantize/wasm/quantize-pool-browser.ts';
import { quantizeWasmUrl } from '../../src/kernels/quantize/wasm/quantize-wasm-url.ts';
import { loadQuantizeWasm } from '../../src/kernels/quantize/wasm/quantize-wasm.ts';
import { createChatClient, createCompressClient } from '../../src/worker/client.ts';
import { rtnCases, runRtnCases } from '../backend-cases.ts';
import { hubModel } from '../browser/hub-model.ts';
import { kernelRig, NBITS_FORMATS, nbitsBuildsDiffer } from '../engine-kernel-rig.ts';
import { greedyLogits, int4Graph, openGraph } from '../engine-page-model.ts';

/**
 * The page test/firefox/numerics.test.ts opens in Firefox (served by Vite's dev server, as the
 * Chromium browser tests are): the case lists the Chromium tests run, here returning what
 * differs instead of asserting, so the test in Node asserts on the lists.
 */
export interface NumericsReport {
  isolated: boolean;
  simd: 'relaxed' | 'plain';
  /** The quantizer's shared case list (test/backend-cases.ts), bitExact: on WASM SIMD, then on a pool of 2 Web Workers. */
  rtnCases: number;
  rtnDiffers: string[];
  /** The engine's int-N products: relaxed vs plain build vs the float64 reference (BUDGET.engineF32Sums). */
  kernelDiffers: string[];
  /** stories260K int4-g32 logits, prefill and 12 greedy steps: relaxed 1 thread, 2 threads vs the plain build. */
  logitsSame: { relaxed: boolean; twoThreads: boolean };
  threads: number;
}

async function numerics(hubUrl: string): Promise<NumericsReport> {
  progress = 'numerics: quantizer cases';
  const cases = rtnCases();
  const wasm = await loadQuantizeWasm(await (await fetch(quantizeWasmUrl)).arrayBuffer());
  let done = 0; // cases run, in the progress line (the test tells a slow page from a stopped one by it)
  const counted = <T>(r: T) => ((progress = `numerics: quantizer case ${++done} of ${2 * cases.length}`), r);
  const rtnDiffers = await runRtnCases(
    { name: 'wasm (Firefox)', quantizeRtn: (w, N, K, o) => counted(wasm.quantizeRtn(w, N, K, o)) },
    cases,
  );
  const pool = await createQuantizePoolBrowser(2);
  try {
    rtnDiffers.push(
      ...(await runRtnCases(
        { name: 'wasm pool (Firefox)', quantizeRtn: async (w, N, K, o) => counted(await pool.quantizeRtn(w, N, K, o)) },
        cases,
      )),
    );
  } finally {
    pool.close();
  }

  progress = 'numerics: engine kernels';
  const plain = await compileEngine(fetchEngineWasm, { simd: 'plain' });
  const relaxed = await compileEngine(fetchEngineWasm);
  const [plainRig, relaxedRig] = [await kernelRig(plain), await kernelRig(relaxed)];
  const kernelDiffers = NBITS_FORMATS.flatMap(([bits, bs]) => nbitsBuildsDiffer(relaxedRig, plainRig, bits, bs, 100));

  progress = 'numerics: stories logits';
  const graph = await int4Graph((await hubModel(hubUrl, 'test-org/stories260K')).ir);
  const same = (a: Float32Array[], b: Float32Array[]) =>
    a.length === b.length && a.every((x, i) => x.every((v, j) => Object.is(v, b[i]![j])));
  const base = await greedyLogits(await openGraph(plain, 1, graph));
  const two = await openGraph(relaxed, 2, graph);
  const threads = two.info.threads;
  return {
    isolated: crossOriginIsolated,
    simd: relaxed.simd,
    rtnCases: cases.length,
    rtnDiffers,
    kernelDiffers,
    logitsSame: {
      relaxed: same(await greedyLogits(await openGraph(relaxed, 1, graph)), base),
      twoThreads: same(await greedyLogits(two), base),
    },
    threads,
  };
}

export interface SwitchReport {
  /** Each load's greedy text, in order (int4-g32, int8, int4-g32, ...). */
  texts: string[];
  threads: number[];
  ms: number;
  /** Each load's time. */
  loadMs: number[];
}

/**
 * The chat worker switching between stories260K's int4-g32 and int8 copies `count` times, each with
 * a short greedy reply, on 2 CPU engine threads: each switch disposes one engine and opens the
 * next in the same worker (Firefox 153 stopped answering within 5 to 35 switches while helper
 * threads were ended and started at each).
 */
async function switches(hubUrl: string, count: number): Promise<SwitchReport> {
  const storeName = `firefox-switches-${Date.now()}`;
  const compress = createCompressClient({ storeName });
  const chat = createChatClient({ storeName });
  try {
    progress = 'switches: download and compress';
    const original = await compress.download({ kind: 'hub', repo: 'test-org/stories260K', hubUrl });
    // Two compressed copies: each opens in tens of ms (the safetensors original takes a second
    // or more in Firefox, as its weights are laid out for the engine at each load).
    const int4 = await compress.compress(original.id, 'int4-g32');
    const int8 = await compress.compress(original.id, 'int8');
    const started = performance.now();
    const texts: string[] = [];
    const threads: number[] = [];
    const loadMs: number[] = [];
    for (let i = 0; i < count; i++) {
      progress = `switches: load ${i + 1} of ${count}`;
      const t0 = performance.now();
      threads.push((await chat.load(i % 2 ? int8.id : int4.id, { threads: 2, engine: 'cpu' })).threads);
      loadMs.push(performance.now() - t0);
      progress = `switches: reply ${i + 1} of ${count}`;
      texts.push((await chat.generate({ prompt: { text: 'Once upon a time' }, maxNewTokens: 6 })).text);
    }
    return { texts, threads, ms: performance.now() - started, loadMs };
  } finally {
    chat.terminate();
    compress.terminate();
  }
}

/** Where the page is: the test reads it when a call does not answer. */
let progress = 'loaded';

Object.assign(window, { shrinkrayFirefox: { numerics, switches, progress: () => progress } });

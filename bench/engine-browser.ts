/**
 * The CPU engine against onnxruntime-web's wasm EP in headless Chromium and Firefox ESR
 * (--browsers; both cross-origin isolated, so both may use threads), in one sitting: fp32, int8 and int4-g32 on onnxruntime-web,
 * int8 and int4-g32 on the engine, at 1 and 2 threads, on synthetic SmolLM2-135M and
 * Qwen2.5-0.5B shapes. Each row runs in a fresh browser context (its own renderer or content process):
 * prefill and decode tokens/s, bytes of weights a decode step reads, the share of the
 * bandwidth ceiling (the page's copy rate / bytes per token, as wllama's anchor computes it),
 * and the renderer's peak resident memory (VmHWM: the model built in the page plus the
 * engine's). Before each row it waits (up to --idle-wait s) for other processes to leave the
 * CPUs and prints how busy they were. With --wllama <results.json> (the anchor in
 * ../shared/anchors/wllama, run in the same sitting) it prints wllama's rows beside ours and
 * the ratios the engine is asked to meet.
 * Firefox rows run the same page in Debian's Firefox ESR over WebDriver BiDi (bench-firefox.ts);
 * their peak RSS is the largest resident set of any content process sampled each second while the row ran.
 * Run: npx tsx bench/engine-browser.ts [--browsers chromium,firefox] [--shapes smollm2-135m,qwen2.5-0.5b] [--rows onnx:fp32,...] [--threads 1,2]
 *      [--layers N] [--prompt 128] [--decode 32] [--reps 2] [--idle-wait 300] [--wllama /tmp/wllama-anchor/out/results.json]
 */
import { readFileSync } from 'node:fs';
import { launchBenchChromium, printTable, startBenchServer } from './bench-browser.ts';
import { openBenchFirefox } from './bench-firefox.ts';
import type { EngineRowResult } from './engine-model.ts';
import { descendantsWith, peakRssBytes, residentBytes, waitForIdle, wllamaRows, type Measured } from './engine-report.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const shapes = arg('shapes', 'smollm2-135m,qwen2.5-0.5b').split(',');
const rowSpecs = arg('rows', 'onnx:fp32,onnx:int8,onnx:int4-g32,cpu:int8,cpu:int4-g32').split(',');
const threadsList = arg('threads', '1,2').split(',');
const common = {
  prompt: arg('prompt', '128'),
  decode: arg('decode', '32'),
  reps: arg('reps', '2'),
  ...(arg('layers', '') ? { layers: arg('layers', '') } : {}),
};
const idleWait = Number(arg('idle-wait', '300'));
const browsers = arg('browsers', 'chromium,firefox').split(',') as ('chromium' | 'firefox')[];

interface PageRunner {
  version: string;
  /** Opens the bench page with `query` in a fresh context; returns its result and the peak RSS of the process(es) it started. */
  inPage<T>(query: Record<string, string>): Promise<{ result: T; peakRss: number }>;
  close(): Promise<void>;
}

const { server, base } = await startBenchServer();
const pageUrl = (query: Record<string, string>) => `${base}/bench/engine-page.html?${new URLSearchParams(query)}`;

async function chromiumRunner(): Promise<PageRunner> {
  const browser = await launchBenchChromium();
  return {
    version: `Chromium ${browser.version()}`,
    async inPage<T>(query: Record<string, string>) {
      const before = new Set(descendantsWith(process.pid, '--type=renderer'));
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(pageUrl(query));
        const renderers = descendantsWith(process.pid, '--type=renderer').filter((p) => !before.has(p));
        await page.waitForFunction(() => (window as unknown as { benchResult?: unknown }).benchResult !== undefined, undefined, {
          timeout: 1_800_000,
          polling: 1000,
        });
        const result = (await page.evaluate(() => (window as unknown as { benchResult: unknown }).benchResult)) as T & { error?: string };
        if (result.error) throw new Error(`page failed: ${result.error}`);
        return { result, peakRss: Math.max(0, ...renderers.map(peakRssBytes)) };
      } finally {
        await context.close();
      }
    },
    close: () => browser.close(),
  };
}

async function firefoxRunner(): Promise<PageRunner> {
  const firefox = await openBenchFirefox();
  return {
    version: `Firefox ${firefox.version}`,
    async inPage<T>(query: Record<string, string>) {
      // Firefox may run the page in a content process it started earlier, so the row's peak is
      // the largest resident set any content process had while the row ran (sampled every second).
      let peak = 0;
      const sample = () => (peak = Math.max(peak, ...descendantsWith(process.pid, '-contentproc').map(residentBytes)));
      const watch = setInterval(sample, 1000);
      try {
        const result = await firefox.result<T>(pageUrl(query));
        sample();
        return { result, peakRss: peak };
      } finally {
        clearInterval(watch);
      }
    },
    close: () => firefox.close(),
  };
}

const rows: (Measured & { browser: string; copy: number })[] = [];
// Both browsers stay open and take turns row by row, so a change in the machine's load between
// rows falls on both alike (other agents share these cores).
const runners: { name: string; runner: PageRunner; copy: number }[] = [];
try {
  for (const name of browsers) {
    const runner = name === 'firefox' ? await firefoxRunner() : await chromiumRunner();
    runners.push({ name, runner, copy: 0 });
  }
  for (const r of runners) {
    await waitForIdle(idleWait);
    r.copy = (await r.runner.inPage<{ bytesPerSecond: number }>({ probe: 'copy' })).result.bytesPerSecond;
    console.log(
      `CPU engine vs onnxruntime-web (wasm EP) in headless ${r.runner.version}; copy rate ${(r.copy / 1e9).toFixed(2)} GB/s copied; ` +
        `prompt ${common.prompt}, ${common.decode} decode steps, best of ${common.reps}`,
    );
  }
  for (const shape of shapes) {
    for (const spec of rowSpecs) {
      const [engine, recipe] = spec.split(':') as ['cpu' | 'onnx', string];
      for (const threads of threadsList) {
        for (const { name, runner, copy } of runners) {
          const busy = await waitForIdle(idleWait);
          const { result, peakRss } = await runner.inPage<EngineRowResult>({ shape, recipe, engine, threads, ...common });
          rows.push({ browser: name, copy, shape, engine, recipe, busy, peakRss, ...result });
          console.error(
            `  ${name} ${shape} ${spec} ${threads} thread(s): decode ${result.decodeTokS.toFixed(1)} tok/s (busy before ${busy.toFixed(0)}%)`,
          );
        }
      }
    }
  }
} finally {
  for (const { runner } of runners) await runner.close();
  await server.close();
}

const table: string[][] = [
  [
    'browser',
    'shape',
    'engine',
    'recipe',
    'threads',
    'simd',
    'stored MB',
    'MB/token',
    'prefill tok/s',
    'decode tok/s',
    'ceiling tok/s',
    'of ceiling',
    'peak RSS MB',
    'engine heap MB',
    'busy before %',
  ],
];
for (const r of rows) {
  const ceiling = r.copy / r.bytesPerToken;
  table.push([
    r.browser,
    r.shape,
    r.engine,
    r.recipe,
    String(r.threads),
    r.simd,
    r.storedMB.toFixed(0),
    (r.bytesPerToken / 1e6).toFixed(1),
    r.prefillTokS.toFixed(1),
    r.decodeTokS.toFixed(2),
    ceiling.toFixed(1),
    `${((100 * r.decodeTokS) / ceiling).toFixed(0)}%`,
    r.peakRss ? (r.peakRss / 1e6).toFixed(0) : '-',
    r.engineHeapMB === null ? '-' : r.engineHeapMB.toFixed(0),
    r.busy.toFixed(0),
  ]);
}
printTable(table);
console.log('\nceiling = copy rate / MB per token: every weight a decode step reads, streamed once at the rate the page copies memory.');
console.log(
  'peak RSS: the renderer (Firefox: content) process at its peak (the synthetic model is built in the page, so its stored bytes count once more).',
);
console.log('Random weights: speed only, never quality.');

const wllama = arg('wllama', '');
if (wllama) {
  console.log('');
  const chromiumRows = rows.filter((r) => r.browser === 'chromium');
  if (chromiumRows.length) printTable(wllamaRows(JSON.parse(readFileSync(wllama, 'utf8')), chromiumRows, chromiumRows[0]!.copy));
}

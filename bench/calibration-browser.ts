/**
 * Calibrated compression in headless Chromium (Debian's /usr/bin/chromium, driven by
 * Playwright), on the WASM SIMD path, inside a worker as the app runs it: the synthetic
 * SmolLM2-135M-shaped model (30 layers, dim 576, FFN 1536, 9 heads / 3 KV heads; weights
 * generated as read) with 32 calibration windows of 512 tokens, `gptq-int4-g32` by default.
 * The large products go to a pool of nested workers (one per core, as the compress worker
 * does; --pool 0 keeps them on the one worker). Peak memory: the workers' V8 heaps plus their
 * ArrayBuffer and WebAssembly stores, summed; garbage not yet collected counts
 * (Runtime.getHeapUsage through the DevTools protocol, sampled every 250 ms).
 * Run: npm run bench calibration-browser [-- --recipe gptq-int4-g32 --windows 32 --layers 30 --pool 2]
 * Wall time on a shared machine: other work on it slows every figure.
 */
import { cpus } from 'node:os';
import type { CDPSession } from 'playwright';
import { launchBenchChromium, startBenchServer } from './bench-browser.ts';
import type { CalibrationBenchResult } from './calibration-bench.worker.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const recipe = arg('recipe', 'gptq-int4-g32');
const windows = arg('windows', '32');
const layers = arg('layers', '30');
const pool = arg('pool', String(cpus().length));

/**
 * Polls the bench worker's and its pool workers' heaps through non-flattened CDP sessions
 * (as test/browser/worker-heap-sampler.ts does); the peak of their sum.
 */
async function heapSampler(cdp: CDPSession): Promise<{ stop(): number }> {
  let peak = 0;
  const sessions = new Map<string, string>(); // targetId -> sessionId
  const latest = new Map<string, number>(); // sessionId -> bytes
  let nextId = 0;
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    const m = JSON.parse(e.message) as { result?: { usedSize: number; backingStorageSize?: number } };
    if (!m.result) return;
    latest.set(e.sessionId, m.result.usedSize + (m.result.backingStorageSize ?? 0));
    peak = Math.max(
      peak,
      [...latest.values()].reduce((x, y) => x + y, 0),
    );
  });
  const timer = setInterval(() => {
    void (async () => {
      const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string; url: string }[] };
      for (const t of targetInfos) {
        if (t.type !== 'worker' || sessions.has(t.targetId) || !/calibration-bench|calib\.worker/.test(t.url)) continue;
        const attached = (await cdp.send('Target.attachToTarget', { targetId: t.targetId, flatten: false })) as { sessionId: string };
        sessions.set(t.targetId, attached.sessionId);
      }
      for (const sessionId of sessions.values()) {
        const message = JSON.stringify({ id: ++nextId, method: 'Runtime.getHeapUsage' });
        await cdp.send('Target.sendMessageToTarget', { sessionId, message }).catch(() => undefined);
      }
    })().catch(() => undefined);
  }, 250);
  return { stop: () => (clearInterval(timer), peak) };
}

const { server, base } = await startBenchServer();
const browser = await launchBenchChromium();
try {
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  const sampler = await heapSampler(cdp);
  let printed = 0;
  const q = new URLSearchParams({ recipe, windows, layers, pool });
  await page.goto(`${base}/bench/calibration-page.html?${q}`);
  let result: CalibrationBenchResult | { error: string } | undefined;
  while (!result) {
    await new Promise((r) => setTimeout(r, 2000));
    const { log, done } = await page.evaluate(() => {
      const w = window as unknown as { benchLog: string[]; benchResult?: unknown };
      return { log: w.benchLog, done: w.benchResult };
    });
    for (; printed < log.length; printed++) console.error(log[printed]);
    result = done as typeof result;
  }
  const peak = sampler.stop();
  if ('error' in result) throw new Error(`page failed: ${result.error}`);
  const r = result;
  const mean = r.blockSeconds.reduce((a, b) => a + b, 0) / r.blockSeconds.length;
  console.log(
    `synthetic SmolLM2-135M shape (${r.layers} layers), ${r.windows} windows x 512 tokens, headless Chromium ${browser.version()}, ` +
      `WASM SIMD; ${cpus().length} cores, shared\n`,
  );
  console.log(
    '| Recipe | Windows | Pool workers | Compression s | of which calibration s | s per block (min–max) | Peak memory | Output |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  const perBlock = `${mean.toFixed(1)} (${Math.min(...r.blockSeconds).toFixed(1)}–${Math.max(...r.blockSeconds).toFixed(1)})`;
  const peakMiB = (peak / 2 ** 20).toFixed(0);
  console.log(
    `| ${r.recipe} | ${r.windows} | ${r.poolWorkers} | ${r.seconds.toFixed(0)} | ${r.calibrationSeconds.toFixed(0)} | ${perBlock} | ${peakMiB} MiB | ${(r.bytesOut / 1e6).toFixed(1)} MB |`,
  );
} finally {
  await browser.close();
  await server.close();
}

/**
 * 1B parameters in a tab: a checkpoint of TinyLlama-1.1B's shape (or Llama-3.2-1B's, or both; or
 * Gemma-3-270M's, whose tied embedding over 262,144 tokens is most of it: try --recipe int4-g32+emb4)
 * in bf16, two safetensors shards and a real tokenizer (bench/large-model-fixture.ts), served
 * by the loopback hub and taken through the app's own workers in headless Chromium
 * (bench/large-model-page.ts): download into IndexedDB, compress to int4-g32, then on the CPU
 * engine a short perplexity and a few chat tokens with the original (its bf16 matrices held as
 * fp16: the fp32 copy, 4.4 GB, is past the 4 GB wasm memory) and with the compressed model.
 * Prints each stage's time, the peak memory of each process and worker in each stage
 * (bench/large-model-memory.ts says what each figure includes), bytes stored and decode speed.
 * Run: npx tsx bench/large-model-browser.ts [--shape tinyllama-1.1b|llama3.2-1b|gemma3-270m|both] [--recipe int4-g32] [--tokens 8] [--layers N]
 * Needs about 3x the checkpoint on disk (the hub's copy, IndexedDB's copy, the compressed
 * model) and several GB of memory; every figure is wall time on whatever else the machine runs.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHubServer } from '../test/hub/hub-server.ts';
import { chromium } from 'playwright';
import { BENCH_CHROMIUM, printTable, startBenchServer } from './bench-browser.ts';
import { busyPercent } from './engine-report.ts';
import { LARGE_SHAPES, writeLargeModel, type LargeShape } from './large-model-fixture.ts';
import { peakIn, sampleChromiumMemory, type MemorySample } from './large-model-memory.ts';
import { parseHfConfig } from '../src/model/hf-config.ts';
import type { LargeResult, RunResult } from './large-model-page.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const shapeArg = arg('shape', 'tinyllama-1.1b');
const shapes: LargeShape[] = shapeArg === 'both' ? ['tinyllama-1.1b', 'llama3.2-1b'] : [shapeArg as LargeShape];
for (const s of shapes)
  if (!LARGE_SHAPES[s]) throw new Error(`unknown --shape '${s}'; known: ${Object.keys(LARGE_SHAPES).join(', ')}, both`);
const recipe = arg('recipe', 'int4-g32');
const tokens = arg('tokens', '8');
const layers = process.argv.includes('--layers') ? Number(arg('layers', '0')) : undefined; // a quick try: fewer layers

const MB = 1e6;
const mb = (b: number) => (b / MB).toFixed(0);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function runShape(shape: LargeShape): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'shrinkray-bench-large-'));
  const busy = await busyPercent(2000);
  const loadBefore = loadavg();
  const t = performance.now();
  const { repo, weightBytes, params, config: c } = await writeLargeModel(root, shape, layers);
  const writeS = (performance.now() - t) / 1000;
  const hub = await startHubServer({ root, port: 0 });
  const { server, base } = await startBenchServer();
  // A profile on disk, as a person's browser has (a fresh context of launch() is incognito: its IndexedDB is held in memory).
  const profile = await mkdtemp(join(tmpdir(), 'shrinkray-bench-profile-'));
  const context = await chromium.launchPersistentContext(profile, { ...BENCH_CHROMIUM, args: [...BENCH_CHROMIUM.args] });
  let result: LargeResult;
  let version: string;
  let samples: MemorySample[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const cdp = await context.newCDPSession(page);
    version = (await cdp.send('Browser.getVersion')).product;
    const sampler = await sampleChromiumMemory(cdp);
    try {
      await page.goto(`${base}/bench/large-model-page.html?${new URLSearchParams({ hub: hub.url, repo, recipe, tokens })}`);
      await page.waitForFunction(() => (window as unknown as { benchResult?: unknown }).benchResult !== undefined, undefined, {
        timeout: 3 * 3600_000,
        polling: 2000,
      });
      result = (await page.evaluate(() => (window as unknown as { benchResult: unknown }).benchResult)) as LargeResult;
    } finally {
      samples = sampler.stop();
    }
    if (result.error) throw new Error(`the page failed: ${result.error}`);
  } finally {
    await context.close();
    await server.close();
    await hub.close();
    await rm(root, { recursive: true, force: true });
    await rm(profile, { recursive: true, force: true });
  }

  console.log(
    `\n### ${shape}: ${(params / 1e9).toFixed(3)}B parameters (hidden ${c.hidden_size}, intermediate ${c.intermediate_size}, ` +
      `${c.num_hidden_layers} layers, ${c.num_attention_heads}/${c.num_key_value_heads} heads, vocab ${c.vocab_size}, ` +
      `${parseHfConfig(c, 'config.json').tieWordEmbeddings ? 'tied' : 'untied'}), bf16, 2 shards -> ${recipe}, headless Chromium ${version}`,
  );
  console.log(
    `machine: ${busy.toFixed(0)}% of the CPUs busy before the run, load average ${loadBefore} before and ${loadavg()} after; ` +
      `checkpoint written in ${writeS.toFixed(1)} s`,
  );
  const rows = [
    ['stage', 'seconds', 'renderer RSS MB', 'compress worker MB', 'chat worker MB', 'storage service RSS MB', 'browser RSS MB'],
  ];
  for (const s of result.stages) {
    const peak = (pick: (m: MemorySample) => number | undefined) => mb(peakIn(samples, s.start, s.end, pick));
    rows.push([
      s.name,
      ((s.end - s.start) / 1000).toFixed(1),
      peak((m) => m.rss.renderer),
      peak((m) => m.workers['compress.worker.ts']),
      peak((m) => m.workers['chat.worker.ts']),
      peak((m) => m.rss.storage),
      peak((m) => m.rss.browser),
    ]);
  }
  const all = (pick: (m: MemorySample) => number | undefined) => mb(Math.max(0, ...samples.map((m) => pick(m) ?? 0)));
  rows.push([
    'whole run (peak)',
    ((result.stages.at(-1)!.end - result.stages[0]!.start) / 1000).toFixed(1),
    all((m) => m.rss.renderer),
    all((m) => m.workers['compress.worker.ts']),
    all((m) => m.workers['chat.worker.ts']),
    all((m) => m.rss.storage),
    all((m) => m.rss.browser),
  ]);
  printTable(rows);
  console.log(
    `stored: checkpoint ${mb(result.bytesDownloaded)} MB (${mb(weightBytes)} MB of weights); compressed ${mb(result.bytesOut)} MB ` +
      `(quantizer ${result.quantizer}; store reads ${result.readS?.toFixed(1) ?? '-'} s, writes ${result.writeS?.toFixed(1) ?? '-'} s); ` +
      `navigator.storage usage ${mb(result.storeUsageAfterDownload)} MB after download, ${mb(result.storeUsageAfterCompress)} MB after compression, ` +
      `quota ${mb(result.storeQuota)} MB`,
  );
  const runRow = (label: string, r: RunResult) => [
    label,
    r.loaded.weights ?? 'as stored',
    `${r.loaded.engine}, ${r.loaded.simd ?? '-'}, ${r.loaded.threads}`,
    r.loadS.toFixed(1),
    mb(r.loaded.memoryBytes ?? 0),
    `${r.ppl.toFixed(1)} (${r.pplTokens} tokens, ${r.pplS.toFixed(1)} s)`,
    `${r.prefillTokens} in ${r.prefillS.toFixed(1)} s`,
    `${r.decodeTokS.toFixed(2)} (${r.chatTokens} tokens)`,
  ];
  printTable([
    [
      'model',
      'matrices held as',
      'engine, SIMD, threads',
      'load s',
      'wasm heap MB',
      'ppl (random weights)',
      'chat prefill',
      'decode tok/s',
    ],
    runRow('original', result.before),
    runRow(recipe, result.after),
  ]);
}

for (const shape of shapes) await runShape(shape);
console.log(
  "\nrenderer RSS: the page and all its workers (wasm memories included); compress/chat worker: that worker's V8 heap plus its " +
    'ArrayBuffer and WebAssembly.Memory stores (DevTools Runtime.getHeapUsage), nested workers not included; wasm heap: the CPU ' +
    "engine's memory when the model was loaded (weights, scratch; the KV cache grows on top). A sample a busy worker does not " +
    'answer within 2 s is missing from its column.',
);

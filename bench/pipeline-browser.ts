/**
 * The whole pipeline in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright),
 * through the app's workers: download of the synthetic SmolLM2-135M-shaped model (13 layers,
 * 297 MB fp32) from the loopback hub into IndexedDB (ranged requests, SHA-256), compression
 * (store reads, kernels, graph, store writes), loading the result on onnxruntime-web's wasm EP
 * and decoding. The vite dev server sends COOP/COEP, so wasm threads are available.
 * Run: npx tsx bench/pipeline-browser.ts [--recipe int4-g32] [--reps 2]
 * Every figure is wall time on a shared machine; compare rows of one run, not across runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHubServer } from '../test/hub/hub-server.ts';
import { SYNTHETIC_SMOLLM_REPO, writeSyntheticSmolLM } from '../test/hub/hub-worker-fixtures.ts';
import { openBenchBrowser, printTable } from './bench-browser.ts';
import type { PipelineResult } from './pipeline-page.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const recipe = arg('recipe', 'int4-g32');
const reps = Number(arg('reps', '2'));

const root = await mkdtemp(join(tmpdir(), 'shrinkray-bench-hub-'));
await writeSyntheticSmolLM(root);
const hub = await startHubServer({ root, port: 0 });
const bench = await openBenchBrowser();
const MB = 1e6;
const rows: string[][] = [
  [
    'run',
    'download MB/s',
    'compress s',
    'longest main-thread task ms',
    'in MB/s',
    'of which read s',
    'write s',
    'quantizer',
    'out MB',
    'load s',
    'decode tok/s',
    'threads',
  ],
];
try {
  for (let rep = 1; rep <= reps; rep++) {
    const r = await bench.run<PipelineResult>('bench/pipeline-page.html', { hub: hub.url, repo: SYNTHETIC_SMOLLM_REPO, recipe });
    rows.push([
      String(rep),
      (r.bytes / MB / r.downloadS).toFixed(0),
      r.compressS.toFixed(2),
      r.longestTaskMs.toFixed(0),
      (r.bytes / MB / r.compressS).toFixed(0),
      r.readS?.toFixed(2) ?? '-',
      r.writeS?.toFixed(2) ?? '-',
      r.quantizer,
      (r.bytesOut / MB).toFixed(1),
      r.loadS.toFixed(2),
      r.decodeTokS.toFixed(1),
      String(r.threads),
    ]);
  }
} finally {
  await bench.close();
  await hub.close();
  await rm(root, { recursive: true, force: true });
}
console.log(`${SYNTHETIC_SMOLLM_REPO} (297 MB fp32) -> ${recipe} in headless Chromium ${bench.version}, loopback hub, IndexedDB`);
printTable(rows);

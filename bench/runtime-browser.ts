/**
 * Decoder speed in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
 * onnxruntime-web's wasm EP with threads (the vite server sends COOP/COEP, so the page is
 * cross-origin isolated), on synthetic SmolLM2-135M-shaped models built in the page.
 * Run: npx tsx bench/runtime-browser.ts [--shape smollm2-135m] [--layers N] [--threads 2] [--ops plain,fused]
 */
import { openBenchBrowser, printTable } from './bench-browser.ts';
import type { PageResult } from './runtime-page.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const shape = arg('shape', 'smollm2-135m');
const layers = arg('layers', '');
const threadsList = arg('threads', '1,2').split(',');
const opsList = arg('ops', 'plain,fused').split(',');

const bench = await openBenchBrowser();
console.log(`onnxruntime-web wasm EP in headless Chromium ${bench.version}; synthetic ${shape}${layers ? `, ${layers} layers` : ''}`);
const rows: string[][] = [['ops', 'threads', 'isolated', 'layers', 'weights MB', 'prefill tok/s', 'decode tok/s']];
try {
  for (const ops of opsList) {
    for (const threads of threadsList) {
      const r = await bench.run<PageResult>('bench/runtime-page.html', { shape, ops, threads, ...(layers ? { layers } : {}) });
      rows.push([
        ops,
        String(r.threads),
        String(r.isolated),
        String(r.layers),
        r.modelMB.toFixed(0),
        r.prefillTokS.toFixed(1),
        r.decodeTokS.toFixed(2),
      ]);
    }
  }
} finally {
  await bench.close();
}
printTable(rows);

/**
 * Decoder speed in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
 * onnxruntime-web's wasm EP with threads (the vite server sends COOP/COEP, so the page is
 * cross-origin isolated), on synthetic SmolLM2-135M-shaped models built in the page.
 * Run: npx tsx bench/runtime-browser.ts [--shape smollm2-135m] [--layers N] [--threads 2] [--ops plain,fused]
 */
import { chromium } from 'playwright';
import { createServer } from 'vite';
import type { PageResult } from './runtime-page.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const shape = arg('shape', 'smollm2-135m');
const layers = arg('layers', '');
const threadsList = arg('threads', '1,2').split(',');
const opsList = arg('ops', 'plain,fused').split(',');

const server = await createServer({ configFile: 'vite.config.ts', server: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
await server.listen();
const address = server.httpServer!.address();
const port = typeof address === 'object' && address ? address.port : 5173;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  ignoreDefaultArgs: ['--headless'],
  args: ['--headless=new', '--no-sandbox', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});
console.log(`onnxruntime-web wasm EP in headless Chromium ${browser.version()}; synthetic ${shape}${layers ? `, ${layers} layers` : ''}`);
const rows: string[][] = [['ops', 'threads', 'isolated', 'layers', 'weights MB', 'prefill tok/s', 'decode tok/s']];
try {
  for (const ops of opsList) {
    for (const threads of threadsList) {
      const page = await browser.newPage();
      const q = new URLSearchParams({ shape, ops, threads, ...(layers ? { layers } : {}) });
      await page.goto(`http://127.0.0.1:${port}/bench/runtime-page.html?${q}`);
      await page.waitForFunction(() => (window as unknown as { benchResult?: unknown }).benchResult !== undefined, undefined, { timeout: 900_000, polling: 1000 });
      const r = (await page.evaluate(() => (window as unknown as { benchResult: unknown }).benchResult)) as PageResult;
      await page.close();
      if (r.error) throw new Error(`page failed: ${r.error}`);
      rows.push([ops, String(r.threads), String(r.isolated), String(r.layers), r.modelMB.toFixed(0), r.prefillTokS.toFixed(1), r.decodeTokS.toFixed(2)]);
    }
  }
} finally {
  await browser.close();
  await server.close();
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));

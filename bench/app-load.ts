/**
 * The built app (`vite build`, as `npm run build`): what it weighs, and how fast it first shows
 * itself in headless Chromium on loopback.
 *   sizes: JS (raw and gzipped), CSS, wasm, and the service worker's precache (what a first
 *          visit downloads into Cache Storage; models/ is never in it)
 *   load:  navigation start to the first frame with the app root (#app) filled, in a fresh
 *          profile (cold: no cache, no service worker) and on a reload served by the service
 *          worker (warm); and, on a static host without COOP/COEP, the wall time until the page
 *          is rendered and cross-origin isolated (first visit: precache, then one reload)
 * Run: npx tsx bench/app-load.ts [--runs 5]   (builds dist/ first)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { resolve } from 'node:path';
import type { Page } from 'playwright';
import { launchApp } from '../test/e2e/app-browser.ts';
import { listFiles, waitForController, waitForIsolation } from '../test/e2e/pwa-page.ts';
import { startStaticServer } from '../test/e2e/static-server.ts';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const dist = resolve('dist');
execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });

// Sizes, by kind, of everything but models/.
const kB = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const files = await listFiles(dist, ['models']);
const sizeRows: string[][] = [['kind', 'files', 'raw', 'gzip -9']];
const kinds: Array<readonly [string, RegExp]> = [
  ['JS, page', /^assets\/(?!.*worker).*\.m?js$/],
  ['JS, workers', /^assets\/.*worker.*\.m?js$/],
  ['JS, service worker', /^sw\.js$/],
  ['JS, all', /\.m?js$/],
  ['CSS', /\.css$/],
  ['wasm', /\.wasm$/],
  ['other', /\.(html|svg|png|webmanifest|txt)$/],
];
for (const [kind, pattern] of kinds) {
  const picked = files.filter((f) => pattern.test(f));
  const bytes = picked.map((f) => readFileSync(resolve(dist, f)));
  const raw = bytes.reduce((s, b) => s + b.byteLength, 0);
  const gz = bytes.reduce((s, b) => s + gzipSync(b, { level: 9 }).byteLength, 0);
  sizeRows.push([kind, String(picked.length), kB(raw), kB(gz)]);
}
const precached = [...readFileSync(resolve(dist, 'sw.js'), 'utf8').matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]!);
const precacheBytes = precached.reduce((s, u) => s + statSync(resolve(dist, u)).size, 0);
sizeRows.push(['precache', String(precached.length), kB(precacheBytes), '']);
printTable(sizeRows);

// Records, in the page, when the first frame with #app filled is drawn (ms since navigation start).
const MARK_RENDER = `new MutationObserver((_, obs) => {
  if (!document.getElementById('app')?.childElementCount) return;
  obs.disconnect();
  requestAnimationFrame(() => { window.__appRenderedMs = performance.now(); });
}).observe(document, { childList: true, subtree: true });`;

async function renderedMs(page: Page): Promise<number> {
  await page.waitForFunction(() => (window as { __appRenderedMs?: number }).__appRenderedMs !== undefined);
  return page.evaluate(() => (window as unknown as { __appRenderedMs: number }).__appRenderedMs);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const isolatedHost = await startStaticServer(dist, { isolation: true });
const plainHost = await startStaticServer(dist, { isolation: false });
const cold: number[] = [];
const warm: number[] = [];
const plainFirst: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const app = await launchApp('about:blank');
    await app.context.addInitScript(MARK_RENDER);
    await app.page.goto(isolatedHost.url);
    cold.push(await renderedMs(app.page));
    await waitForController(app.page);
    await app.page.reload();
    warm.push(await renderedMs(app.page));
    await app.close();

    const plain = await launchApp('about:blank');
    await plain.context.addInitScript(MARK_RENDER);
    const started = performance.now();
    await plain.page.goto(plainHost.url);
    await waitForIsolation(plain.page);
    await renderedMs(plain.page);
    plainFirst.push(performance.now() - started);
    await plain.close();
  }
} finally {
  await isolatedHost.close();
  await plainHost.close();
}
const ms = (xs: number[]) => `${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
printTable([
  ['load (median of ' + runs + ')', 'time to first frame with #app filled'],
  ['cold, fresh profile, COOP/COEP host', ms(cold)],
  ['warm, reload served by the service worker', ms(warm)],
  ['first visit, static host without headers (to isolated)', ms(plainFirst)],
]);

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  console.log();
}

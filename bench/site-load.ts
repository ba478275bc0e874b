/**
 * An exported demo site (shrinkray export-site) as a visitor meets it, in headless Chromium on
 * loopback, from a plain static host without COOP/COEP at a sub-path:
 *   sizes: the runtime without the model (raw and gzip -9, what a host that compresses sends)
 *          and the model
 *   load:  first visit in a fresh profile (service worker installed, one reload into isolation,
 *          the model downloaded) from navigation to the model opened; then a cached visit
 *          (reload): navigation to the model opened, Send to the first piece of text, and
 *          navigation to the first token when Send is pressed at once
 * The model: the demo (stories260K) compressed with the app's default preset, int4-g32+emb8.
 * Run: npx tsx bench/site-load.ts [--runs 5]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright';
import { launchApp } from '../test/e2e/app-browser.ts';
import { listFiles } from '../test/e2e/pwa-page.ts';
import { startStaticServer } from '../test/e2e/static-server.ts';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const scratch = mkdtempSync(join(tmpdir(), 'shrinkray-bench-site-'));
const model = join(scratch, 'model');
const site = join(scratch, 'host', 'demos', 'stories');
const cli = (args: string[]) => execFileSync('npx', ['tsx', 'bin/shrinkray.mjs', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
cli(['compress', resolve('public/models/stories260K'), '--recipe', 'int4-g32+emb8', '--out', model]);
cli(['export-site', model, '--out', site]);

const kB = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const files = await listFiles(site);
const sized = (picked: string[]) => {
  const bytes = picked.map((f) => readFileSync(join(site, f)));
  return [kB(bytes.reduce((s, b) => s + b.byteLength, 0)), kB(bytes.reduce((s, b) => s + gzipSync(b, { level: 9 }).byteLength, 0))];
};
const runtime = files.filter((f) => !f.startsWith('model/'));
printTable([
  ['part', 'files', 'raw', 'gzip -9'],
  ['runtime (page, worker, engine wasm, sw.js, site.json, README)', String(runtime.length), ...sized(runtime)],
  ['  of it JavaScript', String(runtime.filter((f) => f.endsWith('.js')).length), ...sized(runtime.filter((f) => f.endsWith('.js')))],
  ['  of it wasm', String(runtime.filter((f) => f.endsWith('.wasm')).length), ...sized(runtime.filter((f) => f.endsWith('.wasm')))],
  ['model/ (int4-g32+emb8)', String(files.length - runtime.length), ...sized(files.filter((f) => f.startsWith('model/')))],
]);

const ready = (page: Page) => page.locator('#status', { hasText: /^Ready\.$|could not/ }).waitFor({ timeout: 120_000 });
const mark = (page: Page, name: string) => page.evaluate((n) => performance.getEntriesByName(n).at(-1)?.startTime ?? Number.NaN, name);

/** Presses Send (an empty message: from BOS) and returns the ms from the press to the first piece of text. */
async function firstToken(page: Page): Promise<number> {
  const pressed = await page.evaluate(() => {
    const at = performance.now();
    (document.getElementById('send') as HTMLButtonElement).click();
    return at;
  });
  await ready(page);
  return (await mark(page, 'shrinkray-site:first-token')) - pressed;
}

const host = await startStaticServer(join(scratch, 'host'), { isolation: false });
const url = `${host.url}/demos/stories/`;
const rows = { first: [] as number[], cachedOpen: [] as number[], ttft: [] as number[], navToToken: [] as number[] };
let threads = '';
try {
  for (let i = 0; i < runs; i++) {
    const app = await launchApp('about:blank');
    const started = performance.now();
    await app.page.goto(url);
    await ready(app.page);
    rows.first.push(performance.now() - started);
    threads = (await app.page.locator('#runs-on').textContent()) ?? '';
    await firstToken(app.page); // the first reply warms the engine as a visitor's would
    await app.page.reload();
    await ready(app.page);
    const open = await mark(app.page, 'shrinkray-site:model-ready');
    rows.cachedOpen.push(open);
    rows.ttft.push(await firstToken(app.page));
    rows.navToToken.push(open + rows.ttft.at(-1)!);
    await app.close();
  }
} finally {
  await host.close();
  rmSync(scratch, { recursive: true, force: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (xs: number[]) => `${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
printTable([
  [`load (median of ${runs})`, 'time'],
  ['first visit: navigation to model opened (sw install, reload, download)', ms(rows.first)],
  ['cached visit: navigation to model opened', ms(rows.cachedOpen)],
  ['cached visit: Send to first token', ms(rows.ttft)],
  ['cached visit: navigation to first token (Send at once)', ms(rows.navToToken)],
]);
console.log(threads);

function printTable(table: string[][]): void {
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  console.log();
}

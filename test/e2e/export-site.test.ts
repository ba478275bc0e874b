import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import type { Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchApp, screenshotBoth } from './app-browser.ts';
import { axeViolations, expectedGreedyText } from './app-helpers.ts';
import { waitInPage } from './pwa-page.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * The demo compressed in the app and exported as a site ("Export site" on the stored-models
 * screen), unzipped into a sub-folder of a plain static host that sends no COOP/COEP: the
 * site's page isolates itself through its service worker, says what it runs on, continues
 * from BOS with the fixtures' documented greedy text, and after the host is gone reloads and
 * writes the same text again from its caches.
 */
const SUBPATH = 'demos/stories/';
let scratch = '';
let host: StaticServer | undefined;
let hostOpen = false;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-site-'));
});
afterAll(async () => {
  if (hostOpen) await host?.close();
  await rm(scratch, { recursive: true, force: true });
});

async function unzipInto(zip: Uint8Array, dir: string): Promise<string[]> {
  const entries = unzipSync(zip);
  for (const [path, bytes] of Object.entries(entries)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return Object.keys(entries).sort();
}

/** Sends an empty message (a continuation from BOS) and returns the reply once the page is ready again. */
async function continueFromScratch(page: Page): Promise<string> {
  const before = await page.locator('.turn.assistant').count();
  await page.getByRole('button', { name: 'Send' }).click();
  await expect.poll(() => page.locator('.turn.assistant .figures').count(), { timeout: PAGE_WAIT_MS }).toBe(before + 1);
  return (await page.locator('.turn.assistant .text').nth(before).textContent())!;
}

describe('an exported demo site', () => {
  it('exports from the app, isolates itself on a plain host at a sub-path, chats greedily, and again offline', async () => {
    const app = await ShrinkrayPage.open(inject('appUrl'));
    await app.chooseDemo();
    await app.setRecipe('int8');
    await app.compress('stories260K (demo) · int8-g32');
    await app.openScreen(/Stored models/);
    await app.checkScreen('models-export-site');
    const download = app.page.waitForEvent('download');
    await app.page
      .locator('.model-row')
      .filter({ hasText: 'stories260K (demo) · int8-g32' })
      .getByRole('button', { name: 'Export site' })
      .click();
    expect((await download).suggestedFilename()).toBe('stories260K-int8-g32-site.zip');
    const zip = new Uint8Array(await readFile((await (await download).path())!));
    expect(app.errors).toEqual([]);
    await app.app.close();

    const files = await unzipInto(zip, join(scratch, ...SUBPATH.split('/')));
    expect(files).toEqual(
      expect.arrayContaining(['index.html', 'sw.js', 'site.json', 'README.md', 'model/onnx/model.onnx', 'model/tokenizer.json']),
    );
    host = await startStaticServer(scratch, { isolation: false });
    hostOpen = true;
    const base = `${host.url}/${SUBPATH}`;
    const site = await launchApp(base);
    const { page } = site;
    // Ready, or the page's own message: a failure is seen at once, not at the wait's bound.
    const ready = async () => {
      await page.locator('#status', { hasText: /^Ready\.$|could not/ }).waitFor({ timeout: PAGE_WAIT_MS });
      expect(await page.locator('#status').textContent()).toBe('Ready.');
    };
    await waitInPage(page, () => crossOriginIsolated && navigator.serviceWorker.controller !== null, 'the site isolated by its worker');
    await ready();
    expect(await page.locator('h1').textContent()).toBe('stories260K · int8-g32');
    expect(await page.locator('#made').textContent()).toMatch(
      /^Compressed on-device by Shrinkray with int8-g32, from .*: [\d.]+ MB of weights, was [\d.]+ MB\.$/,
    );
    expect(await page.locator('#runs-on').textContent()).toMatch(
      /^Runs on: Shrinkray's CPU engine \(WASM SIMD, (relaxed|plain)\), \d+ threads? · works offline · opened in [\d.]+ s$/,
    );
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.scope)).toBe(base);

    const expected = await expectedGreedyText();
    const first = await continueFromScratch(page);
    expect(first.trim().startsWith(expected.slice(0, expected.indexOf('park.') + 5)), first).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    await screenshotBoth(page, 'site-chat');
    // Nothing outside the site's folder was asked for.
    expect(host.requests.filter((p) => !p.startsWith(`/${SUBPATH}`))).toEqual([]);

    // ?engine=onnx asks for the onnxruntime-web this export left out: refused, saying so.
    const onnx = await site.context.newPage();
    await onnx.goto(`${base}?engine=onnx`);
    await onnx.locator('#status', { hasText: /could not/ }).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await onnx.locator('#status').textContent()).toMatch(
      /^The model could not be opened: .*model\/onnx\/model\.onnx: this demo site carries only Shrinkray's CPU engine: onnxruntime-web.*was left out of the export \(export-site --webgpu carries it\)$/,
    );
    await onnx.close();

    await host.close();
    hostOpen = false;
    const served = host.requests.length;
    await page.reload();
    await ready();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await continueFromScratch(page)).toBe(first);
    expect(host.requests.length).toBe(served);
    await screenshotBoth(page, 'site-chat-offline');
    expect(site.errors).toEqual([]);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedGreedyText } from '../e2e/app-helpers.ts';
import { startStaticServer } from '../e2e/static-server.ts';
import { runCli } from '../node/run-cli.ts';
import { clickButton, launchFirefox, screenshotBoth, waitFor } from './firefox-app.ts';

/**
 * An exported demo site in Firefox (Chromium's journey, which exports it from the app, is
 * test/e2e/export-site.test.ts): the demo compressed and exported by the CLI, served from a
 * sub-folder of a plain static host without COOP/COEP. The page isolates itself through its
 * service worker, continues from BOS with the documented greedy text, and with the host gone
 * reloads and writes the same text from its caches.
 */
const SUBPATH = 'demos/stories/';
let scratch = '';
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'shrinkray-firefox-site-'));
  const model = join(scratch, 'model-int8');
  expect((await runCli(['compress', resolve('public/models/stories260K'), '--recipe', 'int8', '--out', model])).code).toBe(0);
  const site = await runCli([
    'export-site',
    model,
    '--out',
    join(scratch, 'host', ...SUBPATH.split('/')),
    '--title',
    'stories260K · int8-g32',
  ]);
  expect(site.code, site.stderr).toBe(0);
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** Ready, or the page's own message; fails with that message. */
async function ready(page: Page): Promise<void> {
  const status = await waitFor(
    page,
    () => {
      const text = document.querySelector('#status')?.textContent ?? '';
      return text === 'Ready.' || text.includes('could not') ? text : '';
    },
    'the site to open its model',
  );
  expect(status).toBe('Ready.');
}

/** Sends an empty message (a continuation from BOS); the click's handler says 'Writing…' before it returns. */
async function continueFromScratch(page: Page): Promise<string> {
  const before = await page.evaluate(() => document.querySelectorAll('.turn.assistant').length);
  await clickButton(page, 'Send');
  await ready(page);
  expect(await page.evaluate(() => document.querySelectorAll('.turn.assistant .figures').length)).toBe(before + 1);
  return page.evaluate((n: number) => document.querySelectorAll('.turn.assistant .text')[n]!.textContent ?? '', before);
}

describe('Firefox: an exported demo site on a plain host at a sub-path', () => {
  it('isolates itself, continues greedily, and again with the host gone', async () => {
    const host = await startStaticServer(join(scratch, 'host'), { isolation: false });
    let hostOpen = true;
    try {
      const app = await launchFirefox(`${host.url}/${SUBPATH}`);
      const { page } = app;
      await waitFor(page, () => crossOriginIsolated && navigator.serviceWorker.controller !== null, 'isolation by the site worker');
      await ready(page);
      expect(await page.evaluate(() => document.querySelector('#runs-on')!.textContent)).toMatch(
        /^Runs on: Shrinkray's CPU engine \(WASM SIMD, (relaxed|plain)\), \d+ threads? · works offline · opened in [\d.]+ s$/,
      );
      const expected = await expectedGreedyText();
      const first = await continueFromScratch(page);
      expect(first.trim().startsWith(expected.slice(0, expected.indexOf('park.') + 5)), first).toBe(true);
      await screenshotBoth(page, 'site-chat');

      app.mark('closing the host');
      await host.close();
      hostOpen = false;
      const served = host.requests.length;
      await page.reload();
      await ready(page);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(await continueFromScratch(page)).toBe(first);
      expect(host.requests.length).toBe(served);
      expect(app.errors, app.said.join('\n')).toEqual([]);
    } finally {
      if (hostOpen) await host.close();
    }
  });
});

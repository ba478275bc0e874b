import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchApp, screenshotBoth, type AppBrowser } from './app-browser.ts';
import { waitForController, waitInPage } from './pwa-page.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';

/**
 * A new version deployed while the app is open: the page says so and waits for the user (a
 * reload would stop a running compression), then "Update now" switches to the new version.
 * The test deploys "v2" by editing a copy of dist/: new index.html text, and its new revision
 * in sw.js's precache list, as a real rebuild would.
 */
describe('update flow', () => {
  let root: string;
  let server: StaticServer;
  let app: AppBrowser | undefined;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-update-'));
    await cp(resolve('dist'), root, { recursive: true });
    server = await startStaticServer(root, { isolation: true });
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function deployV2(): Promise<void> {
    const indexPath = join(root, 'index.html');
    const index = await readFile(indexPath, 'utf8');
    const v2 = index.replace('</h1>', '</h1>\n      <p id="version">v2</p>');
    expect(v2).not.toBe(index);
    await writeFile(indexPath, v2);
    const swPath = join(root, 'sw.js');
    const sw = await readFile(swPath, 'utf8');
    const swV2 = sw.replace(/("revision":")[0-9a-f]+(","url":"index.html")/, '$1v2$2');
    expect(swV2).not.toBe(sw);
    await writeFile(swPath, swV2);
  }

  it('shows a notice, keeps the page until the user agrees, then runs the new version', async () => {
    app = await launchApp(server.url);
    const { page } = app;
    await waitForController(page);
    // Stands for work in progress: a reload would lose it.
    await page.evaluate(() => Object.assign(window, { workInProgress: true }));

    await deployV2();
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.update());
    const notice = page.getByRole('status', { name: 'Update available' });
    await notice.waitFor({ timeout: 60_000 });
    expect(await notice.textContent()).toContain('A new version of Shrinkray is ready');
    await screenshotBoth(page, 'pwa-update-notice');

    // The new worker waits; the page was not reloaded and still runs v1.
    expect(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())!.waiting)).toBe(true);
    await page.waitForTimeout(1000);
    expect(await page.evaluate(() => (window as { workInProgress?: boolean }).workInProgress)).toBe(true);
    expect(await page.locator('#version').count()).toBe(0);

    // "Later" hides the notice and changes nothing.
    await notice.getByRole('button', { name: 'Later' }).click();
    expect(await notice.count()).toBe(0);
    expect(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())!.waiting)).toBe(true);

    // A later check offers it again; "Update now" activates v2 and reloads into it.
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.update());
    await page.evaluate(() => location.reload());
    await notice.waitFor({ timeout: 60_000 });
    await notice.getByRole('button', { name: 'Update now' }).click();
    await waitInPage(page, () => document.getElementById('version')?.textContent === 'v2', 'the page to run v2');
    await waitForController(page);
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.waiting)).toBeNull();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(app.errors).toEqual([]);
  });
});

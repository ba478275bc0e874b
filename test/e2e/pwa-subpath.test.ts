import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchApp, type AppBrowser } from './app-browser.ts';
import { waitForController, waitForIsolation } from './pwa-page.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';

/**
 * dist/ copied as it is into a sub-folder of a plain static host (as on user.github.io/shrinkray/):
 * the build's relative URLs, the service worker's scope and the manifest all follow the folder.
 */
describe('static host, app in a sub-folder', () => {
  let root: string;
  let server: StaticServer;
  let app: AppBrowser | undefined;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-subpath-'));
    await cp(resolve('dist'), join(root, 'tools', 'shrinkray'), { recursive: true });
    server = await startStaticServer(root, { isolation: false });
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('installs, isolates and works offline under /tools/shrinkray/', async () => {
    const base = `${server.url}/tools/shrinkray/`;
    app = await launchApp(base);
    const { page, context } = app;
    await waitForIsolation(page);
    await waitForController(page);
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.scope)).toBe(base);

    const cdp = await context.newCDPSession(page);
    const manifest = await cdp.send('Page.getAppManifest');
    expect(manifest.errors).toEqual([]);
    expect(manifest.url).toBe(`${base}manifest.webmanifest`);
    const parsed = JSON.parse(manifest.data ?? '{}') as { start_url: string; scope: string };
    expect(new URL(parsed.start_url, manifest.url).href).toBe(base);
    expect(new URL(parsed.scope, manifest.url).href).toBe(base);
    expect((await cdp.send('Page.getInstallabilityErrors')).installabilityErrors).toEqual([]);

    // Nothing of the shell (documents, scripts, styles, icons, the worker) was asked for outside
    // the folder. Model files are the app's data, not the shell: where the demo model is fetched
    // from is the app's business (it should be relative too).
    const shellOutside = server.requests.filter((p) => !p.startsWith('/tools/shrinkray/') && !p.startsWith('/models/'));
    expect(shellOutside).toEqual([]);

    await context.setOffline(true);
    await page.reload();
    expect(await page.locator('h1').textContent()).toBe('Shrinkray');
    await expect.poll(() => page.locator('#app > *').count()).toBeGreaterThan(0);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  });
});

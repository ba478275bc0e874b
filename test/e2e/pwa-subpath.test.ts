import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchApp } from './app-browser.ts';
import { waitForController, waitForIsolation } from './pwa-page.ts';
import { serveDistCopy, type StaticServer } from './static-server.ts';

/**
 * dist/ copied as it is into a sub-folder of a plain static host (as on user.github.io/shrinkray/):
 * the build's relative URLs, the service worker's scope and the manifest all follow the folder.
 */
describe('static host, app in a sub-folder', () => {
  let server: StaticServer;
  beforeAll(async () => {
    server = await serveDistCopy({ isolation: false, subpath: 'tools/shrinkray' });
  });
  afterAll(() => server?.close());

  it('installs, isolates and works offline under /tools/shrinkray/', async () => {
    const base = `${server.url}/tools/shrinkray/`;
    const app = await launchApp(base);
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

import { describe, expect, inject, it } from 'vitest';
import { launchApp, screenshotBoth } from './app-browser.ts';
import { cachedUrls, waitForController } from './pwa-page.ts';

/** Once visited, the app shell loads with the network off, still cross-origin isolated. */
describe('offline', () => {
  it('reloads the shell from the service worker with the network off', async () => {
    const url = inject('appUrl');
    const app = await launchApp(url);
    const { page, context } = app;
    await waitForController(page);

    await context.setOffline(true);
    // The network is really off: a file the service worker does not hold cannot be fetched.
    expect(
      await page.evaluate(() =>
        fetch('models/stories260K/config.json').then(
          () => 'online',
          () => 'offline',
        ),
      ),
    ).toBe('offline');
    const served: string[] = [];
    const failed: string[] = [];
    // A request the test's own navigation cancels (the page left while a worker's script was
    // still loading: seen under load) is net::ERR_ABORTED, not a file the service worker lacks.
    context.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED') failed.push(`${r.url()} ${r.failure()?.errorText}`);
    });
    page.on('response', (r) => served.push(`${new URL(r.url()).pathname} ${r.fromServiceWorker() ? 'sw' : 'network'} ${r.status()}`));
    await page.reload();
    expect(await page.locator('h1').textContent()).toBe('Shrinkray');
    // The app root rendered its views, so the app's script ran too.
    await expect.poll(() => page.locator('#app > *').count()).toBeGreaterThan(0);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // Everything came from the service worker, the document included.
    expect(served.length).toBeGreaterThan(2);
    expect(served.filter((s) => !s.endsWith(' sw 200'))).toEqual([]);

    // A deep link (a demo URL) opens the app offline too.
    await page.goto(new URL('?model=demo&recipe=int4-g32', url).href);
    expect(await page.locator('h1').textContent()).toBe('Shrinkray');

    // The demo model's files are not in any cache: models live in IndexedDB only.
    expect((await cachedUrls(page)).filter((u) => new URL(u).pathname.includes('/models/'))).toEqual([]);
    await screenshotBoth(page, 'pwa-offline');
    // Only model files (never cached) can fail offline; nothing of the shell does, and nothing else errs.
    expect(failed.filter((f) => !new URL(f.split(' ')[0]!).pathname.includes('/models/'))).toEqual([]);
    expect(app.errors.filter((e) => !e.endsWith('Failed to load resource: net::ERR_INTERNET_DISCONNECTED'))).toEqual([]);
  });
});

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startStaticServer } from '../e2e/static-server.ts';
import { launchFirefox, screenshotBoth, waitFor } from './firefox-app.ts';

/**
 * The PWA in Firefox on a static host that cannot set headers: the service worker adds
 * COOP/COEP and the page reloads itself once into isolation (threads for the CPU engine).
 * Then the host goes away (its server closed: every request is refused) and a reload still
 * opens the app from the service worker's cache, isolated.
 */
describe('Firefox: static host without COOP/COEP, then offline', () => {
  it('isolates itself through the service worker, and reloads with the host gone', async () => {
    const host = await startStaticServer(resolve('dist'), { isolation: false });
    let hostOpen = true;
    try {
      const app = await launchFirefox(`${host.url}/`);
      const { page } = app;
      await waitFor(
        page,
        () => crossOriginIsolated && navigator.serviceWorker.controller !== null && document.querySelector('#app > *') !== null,
        'isolation by the service worker',
      );
      expect(await page.evaluate(() => typeof SharedArrayBuffer)).toBe('function');
      expect(await page.evaluate(() => sessionStorage.getItem('shrinkray:isolation-reload'))).toBeNull();
      await screenshotBoth(page, 'static-host');

      await host.close();
      hostOpen = false;
      const served = host.requests.length;
      // The host is really gone: a file the service worker does not hold cannot be fetched.
      expect(
        await page.evaluate(() =>
          fetch('models/stories260K/config.json', { cache: 'no-store' }).then(
            () => 'online',
            () => 'offline',
          ),
        ),
      ).toBe('offline');
      await page.reload();
      await waitFor(
        page,
        () =>
          document.querySelector('h1')?.textContent === 'Shrinkray' && document.querySelector('#app > *') !== null && crossOriginIsolated,
        'the app shell from the service worker, isolated, with the host gone',
      );
      expect(host.requests.length).toBe(served); // nothing reached the closed host
      await screenshotBoth(page, 'offline');
      expect(app.errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    } finally {
      if (hostOpen) await host.close();
    }
  });
});

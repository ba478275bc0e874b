import { describe, expect, it } from 'vitest';
import { deployVersion2 } from '../e2e/pwa-page.ts';
import { serveDistCopy } from '../e2e/static-server.ts';
import { clickButton, launchFirefox, screenshotBoth, waitFor } from './firefox-app.ts';

/**
 * The PWA in Firefox on a static host that cannot set headers: the service worker adds
 * COOP/COEP and the page reloads itself once into isolation (threads for the CPU engine).
 * A v2 is deployed: the page shows the update notice and waits; "Update now" runs v2. Then the
 * host goes away (its server closed: every request is refused) and a reload still opens the
 * app from the service worker's cache, isolated.
 */
describe('Firefox: static host without COOP/COEP, an update, then offline', () => {
  it('isolates itself through the service worker, offers v2 and runs it, and reloads with the host gone', async () => {
    const host = await serveDistCopy({ isolation: false });
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
      app.mark('isolated; deploying v2');

      await deployVersion2(host.root);
      await page.evaluate(async () => void (await (await navigator.serviceWorker.getRegistration())!.update()));
      await waitFor(page, () => document.querySelector('[aria-label="Update available"]') !== null, 'the update notice');
      expect(await page.evaluate(() => document.querySelector('[aria-label="Update available"]')!.textContent)).toContain(
        'A new version of Shrinkray is ready',
      );
      expect(await page.evaluate(() => document.querySelector('meta[name="deployed-version"]'))).toBeNull(); // the page waits for the user
      await screenshotBoth(page, 'update-notice');
      app.mark('Update now');
      await clickButton(page, 'Update now');
      await waitFor(
        page,
        () =>
          document.querySelector('meta[name="deployed-version"]')?.getAttribute('content') === 'v2' &&
          navigator.serviceWorker.controller !== null &&
          crossOriginIsolated &&
          // The capability probe has answered: a reload while its worker still loads its nested
          // worker makes Firefox report that cancelled load as an error of the next page.
          document.querySelector('[data-testid="environment-panel"]') !== null,
        'the page to run v2, isolated, its capabilities probed',
      );

      app.mark('v2 runs; closing the host');
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
      app.mark('reload offline');
      await page.reload();
      await waitFor(
        page,
        () =>
          document.querySelector('h1')?.textContent === 'Shrinkray' && document.querySelector('#app > *') !== null && crossOriginIsolated,
        'the app shell from the service worker, isolated, with the host gone',
      );
      expect(host.requests.length).toBe(served); // nothing reached the closed host
      await screenshotBoth(page, 'offline');
      expect(
        app.errors.filter((e) => e.startsWith('pageerror')),
        app.said.join('\n'),
      ).toEqual([]);
    } finally {
      if (hostOpen) await host.close();
    }
  });
});

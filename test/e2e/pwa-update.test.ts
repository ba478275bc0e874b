import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSY_LOCK } from '../../src/pwa/busy-lock.ts';
import { launchApp, screenshotBoth } from './app-browser.ts';
import { deployVersion2, waitForController, waitInPage } from './pwa-page.ts';
import { serveDistCopy, type StaticServer } from './static-server.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * A new version deployed while the app is open: the page says so and waits for the user (a
 * reload would stop a running compression), then "Update now" switches to the new version.
 * The test deploys "v2" by editing a copy of dist/: a new tag in index.html, and its new revision
 * in sw.js's precache list, as a real rebuild would.
 */
describe('update flow', () => {
  let server: StaticServer & { root: string };
  beforeAll(async () => {
    server = await serveDistCopy({ isolation: true });
  });
  afterAll(() => server?.close());

  const deployV2 = () => deployVersion2(server.root);

  it('shows a notice, keeps the page while the user waits or a job runs, then runs the new version', async () => {
    const app = await launchApp(server.url);
    const { page } = app;
    await waitForController(page);
    const notReloaded = () => page.evaluate(() => (window as { v1Page?: boolean }).v1Page === true);
    await page.evaluate(() => Object.assign(window, { v1Page: true }));
    const waiting = () => page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())!.waiting);

    await deployV2();
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.update());
    const notice = page.getByRole('status', { name: 'Update available' });
    await notice.waitFor({ timeout: PAGE_WAIT_MS });
    expect(await notice.textContent()).toContain('A new version of Shrinkray is ready');
    await screenshotBoth(page, 'pwa-update-notice');

    // The new worker waits; the page was not reloaded and still runs v1. The page reloads only on
    // controllerchange, which a waiting worker cannot cause: the condition, not a pause, shows it.
    expect(await waiting()).toBe(true);
    expect(await notReloaded()).toBe(true);
    expect(await page.locator('meta[name="deployed-version"]').count()).toBe(0);

    // "Later" hides the notice and changes nothing; the next visit offers the update again.
    await notice.getByRole('button', { name: 'Later' }).click();
    expect(await notice.count()).toBe(0);
    expect(await waiting()).toBe(true);
    await page.reload();
    await notice.waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.locator('meta[name="deployed-version"]').count()).toBe(0);

    // A job is running (it holds the busy lock, as the app's long calls do): "Update now" waits for it.
    await page.evaluate((lock) => {
      void navigator.locks.request(
        lock,
        { mode: 'shared' },
        () =>
          new Promise<void>((done) => {
            Object.assign(window, { v1Page: true, finishJob: done });
          }),
      );
    }, BUSY_LOCK);
    await waitInPage(page, () => typeof (window as { finishJob?: unknown }).finishJob === 'function', 'the job to start');
    await notice.getByRole('button', { name: 'Update now' }).click();
    await expect.poll(() => notice.textContent()).toContain('when the running job finishes');
    // The update is queued behind the job: its exclusive request for the busy lock is pending
    // (the new worker is told to take over only once it is granted), so nothing can reload yet.
    await expect
      .poll(() =>
        page.evaluate(
          async (lock) => (await navigator.locks.query()).pending?.some((l) => l.name === lock && l.mode === 'exclusive') ?? false,
          BUSY_LOCK,
        ),
      )
      .toBe(true);
    expect(await notReloaded()).toBe(true);
    expect(await waiting()).toBe(true);

    // The job ends: v2 takes over and the page reloads into it.
    await page.evaluate(() => (window as unknown as { finishJob: () => void }).finishJob());
    await waitInPage(
      page,
      () => document.querySelector('meta[name="deployed-version"]')?.getAttribute('content') === 'v2',
      'the page to run v2',
    );
    await waitForController(page);
    expect(await waiting()).toBe(false);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(app.errors).toEqual([]);
  });
});

import { afterEach, describe, expect, inject, it } from 'vitest';
import { launchApp, screenshotBoth, type AppBrowser } from './app-browser.ts';

/** The built app opens, cross-origin isolated, without console errors. */
describe('built app', () => {
  let app: AppBrowser | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('loads cross-origin isolated with no console errors', async () => {
    app = await launchApp(inject('appUrl'));
    expect(await app.page.locator('h1').textContent()).toBe('Shrinkray');
    expect(await app.page.title()).toBe('Shrinkray');
    expect(await app.page.evaluate(() => crossOriginIsolated)).toBe(true);
    await screenshotBoth(app.page, 'smoke');
    expect(app.errors).toEqual([]);
  });
});

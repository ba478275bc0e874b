import { describe, expect, inject, it } from 'vitest';
import { screenshotBoth } from './app-browser.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';

/** The built app opens, cross-origin isolated, without console errors. */
describe('built app', () => {
  it('loads cross-origin isolated with no console errors', async () => {
    const app = await ShrinkrayPage.open(inject('appUrl'));
    expect(await app.page.locator('h1').textContent()).toBe('Shrinkray');
    await app.demoReady(); // the page probed for the demo model and offers it
    expect(await app.page.title()).toBe('Shrinkray');
    expect(await app.page.evaluate(() => crossOriginIsolated)).toBe(true);
    await screenshotBoth(app.page, 'smoke');
    expect(app.errors).toEqual([]);
  });
});

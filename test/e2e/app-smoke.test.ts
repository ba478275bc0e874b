import { describe, expect, inject, it } from 'vitest';
import { launchApp, screenshotBoth } from './app-browser.ts';

/** The built app opens, cross-origin isolated, without console errors. */
describe('built app', () => {
  it('loads cross-origin isolated with no console errors', async () => {
    const app = await launchApp(inject('appUrl'));
    expect(await app.page.locator('h1').textContent()).toBe('Shrinkray');
    expect(await app.page.title()).toBe('Shrinkray');
    expect(await app.page.evaluate(() => crossOriginIsolated)).toBe(true);
    await screenshotBoth(app.page, 'smoke');
    expect(app.errors).toEqual([]);
  });
});

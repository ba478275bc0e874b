import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { launchApp, screenshotBoth } from './app-browser.ts';
import { cachedUrls, listFiles, pngSize, waitForController } from './pwa-page.ts';

/**
 * The built app as an installable PWA, served with COOP/COEP: a valid manifest with real PNG
 * icons, a service worker that controls the page and precaches the shell (never the models),
 * and nothing Chromium would refuse to install.
 */
interface ManifestIcon {
  src: string;
  sizes: string;
  type: string;
  purpose?: string;
}
interface WebManifest {
  name: string;
  short_name: string;
  description: string;
  start_url: string;
  scope: string;
  display: string;
  theme_color: string;
  background_color: string;
  icons: ManifestIcon[];
}

describe('installable PWA', () => {
  it('has a valid manifest, a controlling service worker, no installability errors and no console errors', async () => {
    const appUrl = inject('appUrl');
    const app = await launchApp(appUrl);
    const { page, context } = app;
    await waitForController(page);
    await page.reload(); // a load the service worker serves from the start
    expect(await page.locator('h1').textContent()).toBe('Shrinkray');
    expect(await page.locator('meta[name="theme-color"]').getAttribute('content')).toBe('#1f3a5f');

    // The manifest, fetched by the page from the link in its head.
    const manifestUrl = await page.locator('link[rel="manifest"]').evaluate((l) => (l as HTMLLinkElement).href);
    const manifest = (await page.evaluate(async (url) => (await fetch(url)).json(), manifestUrl)) as WebManifest;
    expect(manifest.name).toBe('Shrinkray');
    expect(manifest.short_name).toBe('Shrinkray');
    expect(manifest.description.length).toBeGreaterThan(20);
    expect(manifest.display).toBe('standalone');
    expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
    expect(manifest.background_color).toMatch(/^#[0-9a-f]{6}$/i);
    const origin = new URL(appUrl).origin;
    expect(new URL(manifest.start_url, manifestUrl).href).toBe(`${origin}/`);
    expect(new URL(manifest.scope, manifestUrl).href).toBe(`${origin}/`);

    // Every icon exists, is a PNG and has the size the manifest claims.
    const seen = new Set<string>();
    for (const icon of manifest.icons) {
      const url = new URL(icon.src, manifestUrl).href;
      const { contentType, bytes } = await page.evaluate(async (u) => {
        const r = await fetch(u);
        if (!r.ok) throw new Error(`${u}: HTTP ${r.status}`);
        return { contentType: r.headers.get('content-type'), bytes: Array.from(new Uint8Array(await r.arrayBuffer())) };
      }, url);
      expect(icon.type, icon.src).toBe('image/png');
      expect(contentType, icon.src).toBe('image/png');
      const { width, height } = pngSize(Uint8Array.from(bytes));
      expect(`${width}x${height}`, icon.src).toBe(icon.sizes);
      seen.add(`${icon.sizes} ${icon.purpose ?? 'any'}`);
    }
    expect([...seen].sort()).toEqual(['192x192 any', '192x192 maskable', '512x512 any', '512x512 maskable']);

    // Chromium's own verdict: the manifest parses cleanly and the page is installable.
    const cdp = await context.newCDPSession(page);
    const parsed = await cdp.send('Page.getAppManifest');
    expect(parsed.errors).toEqual([]);
    expect(parsed.url).toBe(manifestUrl);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    expect(installabilityErrors).toEqual([]);

    // The precache holds every file of the shell the build wrote (pages, scripts, styles, wasm,
    // icons, the manifest, built-in texts, the demo site runtime and its list), and never a model file.
    const cached = (await cachedUrls(page)).map((u) => new URL(u).pathname.slice(1)).sort();
    const built = await listFiles(resolve('dist'));
    const shell = built.filter(
      (f) =>
        (/\.(html|m?js|css|wasm|svg|png|webmanifest|txt)$/.test(f) || f === 'site-runtime/files.json') &&
        !f.startsWith('models/') &&
        f !== 'sw.js',
    );
    expect(shell).toContain('index.html');
    expect(cached).toEqual(shell);
    expect(built.some((f) => f.startsWith('models/'))).toBe(true); // the demo model is in the build, and yet:
    expect(cached.filter((u) => u.startsWith('models/'))).toEqual([]);

    await screenshotBoth(page, 'pwa-installed');
    expect(app.errors).toEqual([]);
    const elsewhere = app.requests.filter((u) => /^https?:/.test(u) && new URL(u).origin !== origin);
    expect(elsewhere).toEqual([]);
  });
});

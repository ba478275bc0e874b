import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright';
import { onTestFinished } from 'vitest';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * Debian's Chromium driven by Playwright, as a person's browser: a fresh persistent profile
 * (IndexedDB, service workers and the cache survive reloads within a test), every request and
 * console error recorded, and screenshots at the two widths the app is judged at.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];

export const VIEWPORTS = Object.freeze({
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
});

/** Screenshots land here (git-ignored: test-results/). */
export const SCREENSHOT_DIR = resolve('test-results', 'screenshots');

export interface AppBrowser {
  context: BrowserContext;
  page: Page;
  /** Every URL the page, its workers and its service worker requested, in order. */
  requests: string[];
  /** Console errors and uncaught page errors. */
  errors: string[];
  /** Closes the browser now (it also closes by itself when the test ends). */
  close(): Promise<void>;
}

export async function launchApp(url: string, opts: { viewport?: keyof typeof VIEWPORTS } = {}): Promise<AppBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    ignoreDefaultArgs: ['--headless'],
    args: ARGS,
    viewport: VIEWPORTS[opts.viewport ?? 'desktop'],
  });
  context.setDefaultTimeout(PAGE_WAIT_MS); // Playwright's 30 s would be a speed bound under load: waits are for hangs only
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  context.on('weberror', (e) => errors.push(`pageerror: ${e.error().message}`));
  const watch = (page: Page) =>
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= context.close().then(() => rm(profile, { recursive: true, force: true })));
  try {
    onTestFinished(close); // every browser a test opens is closed when the test ends, pass or fail
  } catch {
    // Outside a test (bench/app-load.ts): the caller closes.
  }
  await page.goto(url);
  return { context, page, requests, errors, close };
}

/** Saves `<name>-desktop.png` and `<name>-phone.png` (full page), then restores the viewport. */
export async function screenshotBoth(page: Page, name: string): Promise<string[]> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const before = page.viewportSize();
  const paths: string[] = [];
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    const path = join(SCREENSHOT_DIR, `${name}-${label}.png`);
    await page.screenshot({ path, fullPage: true });
    paths.push(path);
  }
  if (before) await page.setViewportSize(before);
  return paths;
}

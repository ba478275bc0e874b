import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Page } from 'playwright';
import { expect } from 'vitest';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * What the PWA tests ask of a page: when its service worker controls it, when it is
 * cross-origin isolated (the page may reload itself on the way), what the precache holds; a v2 deployed.
 */

/** Polls `fn` in the page until it returns true; a reload in between only costs a retry. */
export async function waitInPage(page: Page, fn: () => boolean, what: string, timeoutMs = PAGE_WAIT_MS): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await page.evaluate(fn).catch(() => false); // "execution context was destroyed" during a reload
    if (ok) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} at ${page.url()}`);
    await page.waitForTimeout(100);
  }
}

export const waitForController = (page: Page) =>
  waitInPage(page, () => navigator.serviceWorker?.controller?.state === 'activated', 'a service worker to control the page');

export const waitForIsolation = (page: Page) =>
  waitInPage(page, () => crossOriginIsolated && document.readyState === 'complete', 'crossOriginIsolated === true');

/** Every URL in the page's Cache Storage (all caches), as the page sees it. */
export function cachedUrls(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const urls: string[] = [];
    for (const name of await caches.keys()) {
      for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
    }
    return urls;
  });
}

/** Files under `dir` (relative, '/'-separated), skipping the folders named in `skip`. */
export async function listFiles(dir: string, skip: readonly string[] = []): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((path) => !skip.some((s) => path === s || path.startsWith(`${s}/`)))
    .sort();
}

/** Width and height from a PNG's IHDR chunk; throws if the bytes are not a PNG. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || signature.some((b, i) => bytes[i] !== b)) throw new Error('not a PNG: bad signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunk = String.fromCharCode(...bytes.subarray(12, 16));
  if (chunk !== 'IHDR') throw new Error(`not a PNG: first chunk is '${chunk}', expected IHDR`);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * Deploys "v2" into a copy of dist/ (serveDistCopy's root) as a real rebuild would: a new tag in
 * index.html, and its new revision in sw.js's precache list.
 */
export async function deployVersion2(root: string): Promise<void> {
  const indexPath = join(root, 'index.html');
  const index = await readFile(indexPath, 'utf8');
  const v2 = index.replace('</head>', '<meta name="deployed-version" content="v2"></head>');
  expect(v2).not.toBe(index);
  await writeFile(indexPath, v2);
  const swPath = join(root, 'sw.js');
  const sw = await readFile(swPath, 'utf8');
  const swV2 = sw.replace(/("revision":")[0-9a-f]+(","url":"index.html")/, '$1v2$2');
  expect(swV2).not.toBe(sw);
  await writeFile(swPath, swV2);
}

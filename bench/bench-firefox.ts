/**
 * The Firefox half of the browser benchmarks: Debian's Firefox ESR launched as the Firefox
 * tests launch it (test/browsers/firefox-launch.ts: puppeteer-core over WebDriver BiDi), on a
 * throw-away profile. A bench page computes in the page and leaves its result in
 * `window.benchResult` ({ error } when it failed), as in the Chromium half (bench-browser.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchFirefoxBrowser } from '../test/browsers/firefox-launch.ts';

export interface BenchFirefox {
  version: string;
  /** Opens `url` in a fresh browser context (its own content process) and waits for its result. */
  result<T>(url: string, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export async function openBenchFirefox(): Promise<BenchFirefox> {
  const profile = await mkdtemp(join(tmpdir(), 'shrinkray-bench-firefox-'));
  const browser = await launchFirefoxBrowser(profile, { protocolTimeoutMs: 1_800_000 });
  return {
    version: await browser.version(),
    async result<T>(url: string, timeoutMs = 1_800_000): Promise<T> {
      const context = await browser.createBrowserContext();
      try {
        const page = await context.newPage();
        await page.goto(url);
        await page.waitForFunction(() => (window as unknown as { benchResult?: unknown }).benchResult !== undefined, {
          timeout: timeoutMs,
          polling: 1000,
        });
        const r = (await page.evaluate(() => (window as unknown as { benchResult: unknown }).benchResult)) as T & { error?: string };
        if (r.error) throw new Error(`page failed in Firefox: ${r.error}`);
        return r;
      } finally {
        await context.close();
      }
    },
    async close() {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

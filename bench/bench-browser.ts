/**
 * The Chromium half of the browser benchmarks: a vite dev server for this repository (it
 * sends COOP/COEP, so pages are cross-origin isolated and wasm threads work) and Debian's
 * headless Chromium driven by Playwright. A bench page computes in the page and leaves its
 * result in `window.benchResult` ({ error } when it failed).
 */
import { chromium, type Browser } from 'playwright';
import { createServer, type ViteDevServer } from 'vite';

export interface BenchBrowser {
  version: string;
  /** Opens `/<path>?<query>` in a fresh page and waits for its result. */
  run<T>(path: string, query: Record<string, string>, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** A vite dev server for this repository on a free loopback port (no HMR: an edit must not reload a page mid-run). */
export async function startBenchServer(): Promise<{ server: ViteDevServer; base: string }> {
  const server = await createServer({ configFile: 'vite.config.ts', server: { port: 0, host: '127.0.0.1', hmr: false }, logLevel: 'warn' });
  await server.listen();
  const address = server.httpServer!.address();
  return { server, base: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 5173}` };
}

/** Debian's Chromium (or CHROMIUM_PATH), headless, with nothing running in the background. */
export const BENCH_CHROMIUM = Object.freeze({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  ignoreDefaultArgs: ['--headless'],
  args: [
    '--headless=new',
    '--no-sandbox',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
  ],
});

export function launchBenchChromium(): Promise<Browser> {
  return chromium.launch({ ...BENCH_CHROMIUM, args: [...BENCH_CHROMIUM.args] });
}

export async function openBenchBrowser(): Promise<BenchBrowser> {
  const { server, base } = await startBenchServer();
  const browser = await launchBenchChromium();
  return {
    version: browser.version(),
    async run<T>(path: string, query: Record<string, string>, timeoutMs = 900_000): Promise<T> {
      const page = await browser.newPage();
      try {
        await page.goto(`${base}/${path}?${new URLSearchParams(query)}`);
        await page.waitForFunction(() => (window as unknown as { benchResult?: unknown }).benchResult !== undefined, undefined, {
          timeout: timeoutMs,
          polling: 1000,
        });
        const r = (await page.evaluate(() => (window as unknown as { benchResult: unknown }).benchResult)) as T & { error?: string };
        if (r.error) throw new Error(`${path} failed in the page: ${r.error}`);
        return r;
      } finally {
        await page.close();
      }
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Prints rows as aligned columns; the first row is the header. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}

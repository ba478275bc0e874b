import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import { launchFirefox, waitFor, type FirefoxApp } from './firefox-app.ts';
import type { NumericsReport, SwitchReport } from './numerics-page.ts';

/**
 * The numerics in Firefox: a page served by Vite's dev server (the source as the Chromium
 * browser tests run it, COOP/COEP from vite.config.ts) runs the quantizer's shared case list
 * on WASM SIMD and a Web Worker pool, the engine's products on its relaxed and plain builds
 * against the float64 reference, and stories260K's logits on 1 and 2 threads; then the chat
 * worker switches models 300 times (Firefox stopped answering within them while each switch
 * ended the engine's helper threads and started new ones). One browser for both.
 */
let vite: ViteDevServer;
let app: FirefoxApp;
const hubUrl = inject('e2eHubUrl');
const SWITCHES = Number(process.env.FIREFOX_SWITCHES ?? 300);

/** A page whose progress line has not moved for this long has stopped (one step takes well under a second on a quiet machine). */
const STILL_MS = 120_000;

/**
 * `call` in the page, or a failure naming where the page stood once its progress line has not
 * moved for STILL_MS (or the page stopped answering): a hang, told apart from a slow page under load.
 */
async function untilStill<T>(call: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const whereNow = async () =>
    Promise.race([
      app.page.evaluate(() => (window as unknown as { shrinkrayFirefox: { progress(): string } }).shrinkrayFirefox.progress()),
      new Promise<string>((ok) => setTimeout(() => ok('(the page does not answer either)'), 5000)),
    ]).catch((e: unknown) => String(e));
  const still = new Promise<never>((_, reject) => {
    let last = '';
    let since = Date.now();
    const look = async () => {
      const at = await whereNow();
      if (at !== last) [last, since] = [at, Date.now()];
      else if (Date.now() - since >= STILL_MS)
        return reject(new Error(`Firefox: ${what}: the page stood at "${at}" for ${STILL_MS / 1000} s`));
      timer = setTimeout(() => void look(), 10_000);
    };
    void look();
  });
  try {
    return await Promise.race([call, still]);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  vite = await createServer({
    configFile: resolve('vite.config.ts'),
    cacheDir: resolve('node_modules/.vite-firefox'),
    server: { port: 0, strictPort: false, hmr: false }, // a file saved during the run must not reload the page under the test
    logLevel: 'warn',
  });
  await vite.listen();
});
afterAll(() => vite?.close());

describe('Firefox: numerics and model switches', () => {
  it('quantizer and engine match the references; 300 chat model switches all answer the same', async () => {
    app = await launchFirefox(`${vite.resolvedUrls!.local[0]}test/firefox/numerics.html`);
    const { page } = app;
    await waitFor(page, () => 'shrinkrayFirefox' in window, 'the numerics page');
    const started = Date.now();
    const r = await untilStill(
      page.evaluate(
        (hub: string) =>
          (window as unknown as { shrinkrayFirefox: { numerics(h: string): Promise<NumericsReport> } }).shrinkrayFirefox.numerics(hub),
        hubUrl,
      ),
      'the numerics',
    );
    const numericsMs = Date.now() - started;
    expect(r.isolated).toBe(true);
    expect(r.rtnCases).toBeGreaterThan(100);
    expect(r.rtnDiffers).toEqual([]);
    expect(r.kernelDiffers).toEqual([]);
    expect(r.logitsSame).toEqual({ relaxed: true, twoThreads: true });
    expect(r.threads).toBe(2);

    const s = await untilStill(
      page.evaluate(
        (hub: string, n: number) =>
          (window as unknown as { shrinkrayFirefox: { switches(h: string, n: number): Promise<SwitchReport> } }).shrinkrayFirefox.switches(
            hub,
            n,
          ),
        hubUrl,
        SWITCHES,
      ),
      `${SWITCHES} model switches`,
    );
    expect(s.texts).toHaveLength(SWITCHES);
    expect(s.threads.every((t) => t === 2)).toBe(true);
    expect(new Set(s.texts.filter((_, i) => i % 2 === 0)).size).toBe(1); // int4-g32's reply, every time
    expect(new Set(s.texts.filter((_, i) => i % 2 === 1)).size).toBe(1); // int8's
    expect(s.texts[0]!.length).toBeGreaterThan(0);
    console.log(
      `Firefox numerics: ${r.simd} SIMD, ${r.rtnCases} quantizer cases, ${numericsMs} ms; ${SWITCHES} switches ${Math.round(s.ms)} ms, loads ${s.loadMs.map(Math.round).join(' ')}`,
    );
    expect(app.errors).toEqual([]);
  });
});

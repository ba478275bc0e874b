import { resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { screenshotBoth } from './app-browser.ts';
import { axeViolations, expectedGreedyText } from './app-helpers.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';
import { startStaticServer } from './static-server.ts';
import { withoutPrelude, type Without } from './without-capabilities.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * Chromium made to lack what other browsers lack (without-capabilities.ts removes the APIs in
 * the page and in every worker before the app's code runs), one page per set: the app's own
 * detection finds each gap, the environment panel names it, and the main journey still
 * completes on the fallback (demo -> int4-g32+emb8 -> report -> chat); where nothing can stand
 * in, the app refuses and says what is missing. The paths Safari takes on paper: no relaxed
 * SIMD, a declared small memory (the smaller default preset), storage that may be evicted.
 */
async function serve(without: Without[], opts: { isolation: boolean; deviceMemoryGB?: number }): Promise<string> {
  const server = await startStaticServer(resolve('dist'), { isolation: opts.isolation, prelude: withoutPrelude(without, opts) });
  onTestFinished(() => server.close());
  return server.url;
}

/** The panel's state for each capability: id -> 'yes' | 'no' | 'partial'. */
async function panelStates(app: ShrinkrayPage): Promise<Record<string, string>> {
  const panel = app.page.getByTestId('environment-panel');
  await panel.waitFor();
  const rows = await panel
    .locator('li')
    .evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-capability')!, li.getAttribute('data-state')!] as [string, string]));
  return Object.fromEntries(rows);
}

/** Opens the panel, checks it with axe-core and saves it at both widths (test-results/screenshots/). */
async function shootPanel(app: ShrinkrayPage, name: string): Promise<void> {
  await app.page.getByTestId('environment-panel').locator('summary').click();
  expect(await axeViolations(app.page), `axe on ${name}`).toEqual([]);
  await screenshotBoth(app.page, name);
  await app.page.getByTestId('environment-panel').locator('summary').click();
}

/** The main journey on whatever this browser offers; returns the compressed model's greedy reply and its status line. */
async function journey(app: ShrinkrayPage): Promise<{ reply: string; status: string }> {
  await app.chooseDemo();
  await app.setRecipe('int4-g32+emb8');
  await app.compress('stories260K (demo) · int4-g32+emb8');
  // The evaluation ends in perplexity figures or a failed job; a failure fails here, naming its message.
  const failed = app.page.locator('.notice.error');
  await expect
    .poll(async () => (await failed.count()) > 0 || (await app.page.getByTestId('ppl-after').count()) > 0, { timeout: PAGE_WAIT_MS })
    .toBe(true);
  expect(await failed.allTextContents()).toEqual([]);
  const ppl = await app.perplexity();
  expect(ppl.before).toBeCloseTo(3.548, 3); // the fixtures README's figure, on the fallback too
  expect(ppl.after / ppl.before).toBeGreaterThan(1);
  expect(ppl.after / ppl.before).toBeLessThan(1.16);
  await app.openScreen('3. Chat');
  await app.chatSettings({ temperature: 0, maxNewTokens: 40 });
  await app.send('');
  const reply = (await app.page.locator('.turn.assistant .text').textContent())!.trim();
  // int4 keeps the fp32 story's first sentence.
  const expected = await expectedGreedyText();
  expect(reply.startsWith(expected.slice(0, expected.indexOf('.') + 1))).toBe(true);
  // The status line says what really ran the model (the engine's flavour and threads after load).
  return {
    reply,
    status: (await app.page
      .getByText(/^CPU engine \(/)
      .first()
      .textContent())!,
  };
}

describe('capability fallbacks in Chromium', () => {
  it('no relaxed SIMD, WebGPU, Web Locks, persistent storage, storage estimate, File System Access, OPFS, waitAsync; 0.5 GB declared', async () => {
    const off: Without[] = [
      'relaxed-simd',
      'webgpu',
      'web-locks',
      'storage-persist',
      'storage-estimate',
      'file-system-access',
      'opfs',
      'wait-async',
    ];
    const app = await ShrinkrayPage.open(await serve(off, { isolation: true, deviceMemoryGB: 0.5 }));
    const states = await panelStates(app);
    for (const id of off) expect(states[id], id).toBe('no'); // every capability taken away reads as missing
    expect(states).toMatchObject({
      'wasm-simd': 'yes',
      threads: 'yes',
      'nested-workers': 'yes',
      'module-workers': 'yes',
      memory: 'partial',
    });
    const summary = await app.page.getByTestId('environment-panel').locator('summary').textContent();
    // Relaxed SIMD, WebGPU, Web Locks, storage estimate and persist, the memory budget; waitAsync, File System Access and OPFS are not needed.
    expect(summary).toBe('What this browser offers: 6 of the 14 capabilities the app uses are missing or limited');
    expect(await app.page.getByRole('note').first().textContent()).toMatch(
      /^No WebGPU in this browser: models run on Shrinkray's CPU engine \(WASM SIMD\) with up to [2-8] threads\.$/,
    );
    await shootPanel(app, 'environment-without-many');
    // 0.5 GB declared: a 384 MB budget, so the Shrink screen starts on the smallest preset.
    await app.chooseDemo();
    expect(await app.recipe.inputValue()).toBe('int4-g32+emb4');
    await app.openScreen('1. Model');

    const { status } = await journey(app);
    expect(status).toMatch(/^CPU engine \(WASM SIMD\), [2-8] threads · /); // the plain-SIMD build, threaded
    await app.openScreen(/Stored models/);
    expect(await app.page.getByTestId('persistence').getAttribute('data-state')).toBe('unsupported');
    expect(await app.page.getByTestId('eviction-warning').textContent()).toMatch(/Safari deletes a site.s storage after 7 days/);
    expect(app.errors).toEqual([]);
    app.expectOnlyOrigins();
  });

  it('not cross-origin isolated (no service worker to isolate it) and no workers inside workers: one thread', async () => {
    const app = await ShrinkrayPage.open(await serve(['service-worker', 'nested-workers'], { isolation: false }));
    expect(await app.page.evaluate(() => [crossOriginIsolated, typeof SharedArrayBuffer])).toEqual([false, 'undefined']);
    expect(await panelStates(app)).toMatchObject({ threads: 'no', 'nested-workers': 'no', 'service-worker': 'no', 'relaxed-simd': 'yes' });
    await shootPanel(app, 'environment-one-thread');
    const { status } = await journey(app);
    expect(status).toMatch(/^CPU engine \(relaxed SIMD\), 1 thread · /);
    // The quantize pool could not start: the compress worker quantized on its own (kernel-pool.ts says so once).
    expect(app.errors).toEqual([]);
    app.expectOnlyOrigins();
  });

  it('refuses a compression that cannot fit a 0.25 GB device, naming the numbers, before any work', async () => {
    const app = await ShrinkrayPage.open(await serve([], { isolation: true, deviceMemoryGB: 0.25 }));
    await panelStates(app);
    await app.chooseDemo();
    const refusal = app.page.getByTestId('memory-refusal');
    await refusal.waitFor();
    expect(await refusal.textContent()).toBe(
      "This job needs about 258 MB at its peak (twice the model's 1 MB plus 256 MB for the app), more than this tab's memory budget of " +
        '192 MB (navigator.deviceMemory 0.25 GB × 0.75). Choose a smaller model, or open Shrinkray on a device with more memory.',
    );
    expect(await app.compressButton.isDisabled()).toBe(true);
    expect(app.errors).toEqual([]);
  });

  it('without WebAssembly SIMD refuses to start and names what is missing', async () => {
    const app = await ShrinkrayPage.open(await serve(['wasm-simd'], { isolation: true }));
    const refusal = app.page.getByTestId('refusal');
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/cannot run in this browser.*It lacks WebAssembly SIMD\./);
    expect(await panelStates(app)).toMatchObject({ 'wasm-simd': 'no' });
    await shootPanel(app, 'environment-refusal');
  });
});

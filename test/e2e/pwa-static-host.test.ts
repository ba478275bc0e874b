import { describe, expect, inject, it } from 'vitest';
import { launchApp, screenshotBoth } from './app-browser.ts';
import { expectedGreedyText } from './app-helpers.ts';
import { waitForController, waitForIsolation } from './pwa-page.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';

/**
 * A static host that cannot set headers: the built app served without COOP/COEP. The service
 * worker adds them, the page reloads itself once into isolation, and the chat then really runs
 * the CPU engine on 2 threads (workers on a SharedArrayBuffer, which needs that isolation).
 */
describe('static host without COOP/COEP', () => {
  it('becomes cross-origin isolated once the service worker controls it, reloading once', async () => {
    const url = inject('plainAppUrl');
    const app = await launchApp(url);
    const { page } = app;
    let loads = 1; // launchApp's goto
    page.on('load', () => loads++);
    await waitForIsolation(page);
    await waitForController(page);
    expect(loads).toBe(2); // the first visit, then the one reload into isolation
    expect(await page.evaluate(() => typeof SharedArrayBuffer)).toBe('function');

    // Later visits are served by the worker, isolated from the start: no more reloads.
    await page.reload();
    await waitForIsolation(page);
    expect(loads).toBe(3);
    expect(await page.evaluate(() => sessionStorage.getItem('shrinkray:isolation-reload'))).toBeNull();

    await screenshotBoth(page, 'pwa-static-host');
    expect(app.errors).toEqual([]);
    const origin = new URL(url).origin;
    expect(app.requests.filter((u) => /^https?:/.test(u) && new URL(u).origin !== origin)).toEqual([]);
  });
});

/**
 * onnxruntime-web in that page: the test serves onnxruntime-web's own bundle (the file the app's
 * chat worker is built from) beside a copy of dist/ on a plain host, imports it into the
 * isolated page and runs a MatMul on 2 threads. The app itself gets no test-only code path.
 */
describe('chat on a static host', () => {
  it('runs the demo model on the CPU engine with 2 threads and the documented greedy text', async () => {
    const app = await ShrinkrayPage.open(inject('plainAppUrl'));
    const { page } = app;
    await waitForIsolation(page);
    await app.chooseDemo();
    await app.openScreen('3. Chat');
    await app.chatSettings({ temperature: 0, threads: 2 });
    await app.send(''); // an empty prompt: a completion from BOS
    // The status line says what really runs the model: the engine's threads after load (1 without isolation).
    expect(await page.getByText(/^CPU engine \((relaxed|WASM) SIMD\), 2 threads · /).isVisible()).toBe(true);
    const reply = (await page.locator('.turn.assistant .text').textContent())!.trim();
    expect(reply.startsWith((await expectedGreedyText()).slice(0, 60))).toBe(true);
    expect(app.errors).toEqual([]);
    app.expectOnlyOrigins();
  });
});

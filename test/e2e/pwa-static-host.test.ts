import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { GraphBuilder } from '../../src/formats/onnx/graph-builder.ts';
import { launchApp, screenshotBoth, type AppBrowser } from './app-browser.ts';
import { waitForController, waitForIsolation } from './pwa-page.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';

/**
 * A static host that cannot set headers: the built app served without COOP/COEP. The service
 * worker adds them, the page reloads itself once into isolation, and onnxruntime-web's wasm
 * backend then really runs on 2 threads.
 */
describe('static host without COOP/COEP', () => {
  let app: AppBrowser | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('becomes cross-origin isolated once the service worker controls it, reloading once', async () => {
    const url = inject('plainAppUrl');
    app = await launchApp(url);
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
describe('onnxruntime-web on a static host', () => {
  let root: string;
  let server: StaticServer;
  let app: AppBrowser | undefined;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-static-'));
    await cp(resolve('dist'), root, { recursive: true });
    const ortDist = resolve('node_modules/onnxruntime-web/dist');
    for (const file of ['ort.bundle.min.mjs', 'ort-wasm-simd-threaded.jsep.wasm']) {
      await cp(join(ortDist, file), join(root, 'e2e-probe', file));
    }
    server = await startStaticServer(root, { isolation: false });
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('runs a session with 2 wasm threads', async () => {
    // C[n,n] = A[n,n] · B, with B a constant: enough work for onnxruntime's thread pool.
    const n = 96;
    const a = Float32Array.from({ length: n * n }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
    const b = Float32Array.from({ length: n * n }, (_, i) => ((i * 5) % 11) / 11 - 0.5);
    const g = new GraphBuilder('probe');
    g.addInput('a', 1, [n, n]);
    const c = g.op('MatMul', ['a', g.float32('b', b, [n, n])], { output: 'c' });
    g.addOutput(c, 1, [n, n]);
    const model = g.build({ opsets: [{ domain: '', version: 17 }] }).model;

    app = await launchApp(server.url);
    const { page } = app;
    await waitForIsolation(page);
    const probeRequestsBefore = server.requests.filter((p) => p.endsWith('/ort.bundle.min.mjs')).length;
    // A pthread worker the page may not load (no COEP on its script) hangs onnxruntime: fail in a minute instead.
    const timeout = new Promise<never>((_, fail) =>
      setTimeout(() => fail(new Error(`no session result after 60 s; errors: ${app?.errors.join('; ')}`)), 60_000).unref(),
    );
    const result = await Promise.race([
      timeout,
      page.evaluate(
        async ({ model, a, n }) => {
          type Ort = typeof import('onnxruntime-web');
          // A dynamic import the page runs itself (Vitest would rewrite an import() written here).
          const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<Ort>;
          const ort = await importModule(new URL('e2e-probe/ort.bundle.min.mjs', location.href).href);
          ort.env.wasm.numThreads = 2;
          const session = await ort.InferenceSession.create(Uint8Array.from(model), { executionProviders: ['wasm'] });
          const out = await session.run({ a: new ort.Tensor('float32', Float32Array.from(a), [n, n]) });
          const c = Array.from(out.c!.data as Float32Array);
          await session.release();
          return { threads: ort.env.wasm.numThreads, c };
        },
        { model: Array.from(model), a: Array.from(a), n },
      ),
    ]);

    expect(result.threads).toBe(2);
    // The answer is right (so the pool really computed it) ...
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let k = 0; k < n; k++) sum += a[i * n + k]! * b[k * n + j]!;
        worst = Math.max(worst, Math.abs(sum - result.c[i * n + j]!));
      }
    }
    expect(worst).toBeLessThan(1e-4);
    // ... and a pthread worker started: it loads the same module again, through the service worker.
    const probeRequests = server.requests.filter((p) => p.endsWith('/ort.bundle.min.mjs')).length;
    expect(probeRequests - probeRequestsBefore).toBeGreaterThanOrEqual(2);
    expect(app.errors).toEqual([]);
    const origin = new URL(server.url).origin;
    expect(app.requests.filter((u) => /^https?:/.test(u) && new URL(u).origin !== origin)).toEqual([]);
  });
});

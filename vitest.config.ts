import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { isolationHeaders } from './vite.config.ts';
import LongestFirstSequencer from './test/longest-first-sequencer.ts';
import { HANG_MS, PAGE_WAIT_MS } from './test/hang-bound.ts';

// Debian's Chromium, never a browser Playwright downloads itself.
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The Node files that run in a process of their own (see the node-memory project).
const OWN_PROCESS = ['test/node/hardening-config.test.ts', 'test/node/fuzz/**/*.test.ts'];
// The browser file that runs in a Chromium of its own (see the browser project).
const ALONE = 'test/browser/worker-synthetic.test.ts';

const chromiumArgs = [
  '--headless=new',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];

export default defineConfig({
  test: {
    // Every project runs in one group: the node, e2e and firefox files share the forks pool, one file
    // per core (Vitest's default leaves one core to itself, but the browser project's page runs
    // beside the pool, and the e2e and firefox files mostly wait on a browser), longest first
    // across projects (the sequencer), and the browser project's files run one page at a time beside it
    // (in two Chromiums: see the browser project).
    maxWorkers: availableParallelism(),
    // The default report, and a watchdog that ends a run one file has left stuck past every time
    // limit (test/hang-watchdog/reporter.ts) instead of letting it wait for ever.
    reporters: ['default', './test/hang-watchdog/reporter.ts'],
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      {
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/node/**/*.test.ts'],
          exclude: OWN_PROCESS,
          // A forks worker runs file after file without restarting: a fresh process per file cost
          // about 3 CPU-seconds each (Node and Vitest start, the src graph, onnxruntime-web's wasm).
          isolate: false,
          testTimeout: HANG_MS,
          hookTimeout: HANG_MS,
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        // The files that bound the growth of the process's peak memory (process.resourceUsage().maxRSS,
        // which never goes down): each runs in a process of its own, so an earlier file's peak cannot hide it.
        test: {
          name: 'node-memory',
          environment: 'node',
          include: OWN_PROCESS,
          testTimeout: HANG_MS,
          hookTimeout: HANG_MS,
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        server: { headers: isolationHeaders },
        optimizeDeps: { exclude: ['onnxruntime-web'] },
        worker: { format: 'es' },
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: HANG_MS,
          hookTimeout: HANG_MS,
          // The loopback model hub (test/hub) starts after the fixtures exist.
          globalSetup: ['test/global-setup.ts', 'test/hub/hub-global-setup.ts'],
          browser: {
            enabled: true,
            headless: true,
            // One page at a time in each instance: worker-synthetic's heap sampler and memory measure
            // read the workers of the whole browser, so a second test file's workers would count in
            // them, and the others steer and count the requests of one loopback hub. worker-synthetic,
            // the longest file, gets a Chromium and a hub server of its own (test/hub/hub-global-setup.ts)
            // beside the others, so the browser files are two chains, not one.
            fileParallelism: false,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: { executablePath: chromiumPath, ignoreDefaultArgs: ['--headless'], args: chromiumArgs },
            }),
            instances: [
              { browser: 'chromium', exclude: [ALONE] },
              { browser: 'chromium', name: 'browser (chromium, alone)', include: [ALONE] },
            ],
          },
        },
      },
      {
        // End-to-end: Playwright drives Debian's Chromium against the built app (vite build) on loopback.
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: HANG_MS,
          hookTimeout: HANG_MS,
          expect: { poll: { timeout: PAGE_WAIT_MS } }, // expect.poll waits as long as any page wait
          globalSetup: ['test/global-setup.ts', 'test/e2e/e2e-global-setup.ts'],
        },
      },
      {
        // Debian's Firefox ESR, driven by puppeteer-core over WebDriver BiDi, against the same built
        // app and loopback servers as e2e (its global setup builds dist/ and starts them).
        test: {
          name: 'firefox',
          environment: 'node',
          include: ['test/firefox/**/*.test.ts'],
          testTimeout: HANG_MS,
          hookTimeout: HANG_MS,
          expect: { poll: { timeout: PAGE_WAIT_MS } },
          globalSetup: ['test/global-setup.ts', 'test/e2e/e2e-global-setup.ts'],
        },
      },
    ],
  },
});

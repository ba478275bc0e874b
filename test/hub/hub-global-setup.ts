import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { writeHubFixtures } from './hub-fixtures.ts';
import { writePublishedBf16 } from './hub-published-fixtures.ts';
import { writeWorkerFixtures } from './hub-worker-fixtures.ts';
import { writeShareLinkFixtures } from './share-link-fixtures.ts';
import { startHubServer, type HubServer } from './hub-server.ts';

/**
 * Vitest global setup for browser tests: generates the hub fixtures into a temp folder
 * and serves them on loopback; tests read the address with `inject('hubUrl')` and steer
 * faults and read byte counts through the server's /__hub/ routes.
 *
 * Each browser instance (vitest.config.ts) runs this setup, and each gets its own server, so
 * one instance's requests, faults and byte counts never show in another's; the fixtures
 * (a 297 MB model, three calibrated CLI compressions) are written once per run and shared.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    hubUrl: string;
  }
}

const PREFERRED_PORT = 41234;

let fixtures: Promise<string> | undefined; // the root, written by the first instance's setup
let serving = 0; // servers still open on it

async function writeFixtures(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'shrinkray-hub-'));
  // test/global-setup.ts runs first and generates public/models/ (npm run fixtures).
  await writeHubFixtures(root, resolve('public/models/stories260K'));
  await writeWorkerFixtures(root); // a ~297 MB synthetic model and the fixture texts, for test/browser/worker-*.test.ts
  await writeShareLinkFixtures(root); // compressed folders for share links, and ones that are not models (test/browser/share-link.test.ts)
  await writePublishedBf16(root); // Qwen2.5- and Gemma-3-shaped bf16 shards with real tokenizers, for test/browser/published-bf16.test.ts
  return root;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await (fixtures ??= writeFixtures());
  let hub: HubServer;
  try {
    hub = await startHubServer({ root, port: PREFERRED_PORT });
  } catch {
    hub = await startHubServer({ root, port: 0 }); // taken (another instance or run): any free port
  }
  serving++;
  project.provide('hubUrl', hub.url);
  return async () => {
    await hub.close();
    if (--serving > 0) return;
    fixtures = undefined;
    await rm(root, { recursive: true, force: true });
  };
}

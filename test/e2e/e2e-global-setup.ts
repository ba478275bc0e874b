import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { writeHubFixtures } from '../hub/hub-fixtures.ts';
import { writeFixtureText, writeSyntheticSmolLM } from '../hub/hub-worker-fixtures.ts';
import { startHubServer } from '../hub/hub-server.ts';
import { startStaticServer } from './static-server.ts';

/**
 * End-to-end set-up: builds the app (`vite build` into dist/, as `npm run build` does),
 * serves it twice on loopback (with COOP/COEP, and as a plain static host without them), and
 * starts the loopback hub. Tests read the addresses with inject().
 */
declare module 'vitest' {
  export interface ProvidedContext {
    appUrl: string; // dist/ with COOP/COEP headers
    plainAppUrl: string; // dist/ without them
    e2eHubUrl: string;
    e2eHubRoot: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // NODE_ENV=production as `npm run build` has it: Vitest sets 'test', which Vite would carry into
  // the bundle (import.meta.env.PROD false, so no service worker and a development build).
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  const dist = resolve('dist');
  const app = await startStaticServer(dist, { isolation: true });
  const plain = await startStaticServer(dist, { isolation: false });
  const hubRoot = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-hub-'));
  await writeHubFixtures(hubRoot, resolve('public/models/stories260K'));
  await writeFixtureText(hubRoot);
  await writeSyntheticSmolLM(hubRoot, 4); // SmolLM2-135M's shape with 4 layers (~170 MB) for the hub journey
  const hub = await startHubServer({ root: hubRoot, port: 0 });
  project.provide('appUrl', app.url);
  project.provide('plainAppUrl', plain.url);
  project.provide('e2eHubUrl', hub.url);
  project.provide('e2eHubRoot', hubRoot);
  return async () => {
    await Promise.all([app.close(), plain.close(), hub.close()]);
    await rm(hubRoot, { recursive: true, force: true });
  };
}

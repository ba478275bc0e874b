import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { writeHubFixtures } from '../hub/hub-fixtures.ts';
import { writeFixtureText, writeSyntheticSmolLM } from '../hub/hub-worker-fixtures.ts';
import { startHubServer } from '../hub/hub-server.ts';
import { writeShareLinkFixtures } from '../hub/share-link-fixtures.ts';
import { startStaticServer } from './static-server.ts';

/**
 * End-to-end set-up: builds the app (`vite build` into dist/, as `npm run build` does; skipped
 * when no input changed since this set-up last built it),
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

// What the build reads: a file here newer than the last e2e build means dist/ is stale.
const BUILD_INPUTS = ['index.html', 'vite.config.ts', 'package-lock.json', 'src', 'public'];
// Outside dist/ (the PWA tests compare dist/'s files with the precache list).
const BUILD_STAMP = resolve('.cache', 'e2e-dist-stamp');

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((t, f) => Math.max(t, newestMtime(join(path, f))), stat.mtimeMs);
}

/** `vite build` into dist/, unless dist/ was built by this set-up after every input last changed. */
function buildApp(): void {
  if (existsSync(BUILD_STAMP) && existsSync(resolve('dist', 'index.html'))) {
    const built = statSync(BUILD_STAMP).mtimeMs;
    if (BUILD_INPUTS.every((p) => newestMtime(resolve(p)) < built)) return;
  }
  rmSync(BUILD_STAMP, { force: true });
  // NODE_ENV=production as `npm run build` has it: Vitest sets 'test', which Vite would carry into
  // the bundle (import.meta.env.PROD false, so no service worker and a development build).
  // Bounded: this runs on Vitest's main thread, where a build that never ends would stop every timer.
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production' },
    timeout: 600_000,
  });
  mkdirSync(dirname(BUILD_STAMP), { recursive: true });
  writeFileSync(BUILD_STAMP, `${new Date().toISOString()}\n`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  buildApp();
  const dist = resolve('dist');
  const app = await startStaticServer(dist, { isolation: true });
  const plain = await startStaticServer(dist, { isolation: false });
  const hubRoot = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-hub-'));
  await writeHubFixtures(hubRoot, resolve('public/models/stories260K'));
  await writeFixtureText(hubRoot);
  await writeShareLinkFixtures(hubRoot); // a compressed stories260K for share links (test/e2e/share-link.test.ts)
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

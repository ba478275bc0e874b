import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShrinkrayError } from '../errors.ts';
import type { RuntimeFile } from '../jobs/export-site.ts';
import { ensureWasm } from './wasm-build.ts';

/**
 * The exported demo site's runtime (the page in src/site/, the library's worker, the CPU
 * engine's wasm, sw.js), built by Vite with vite.site.config.ts: the 'cpu' variant into the
 * git-ignored public/site-runtime/ (the app serves it from there and the CLI's export-site copies
 * it), the 'webgpu' variant (with onnxruntime-web) into .cache/site-runtime-webgpu/ for the CLI.
 * Built again only when a source is newer than the last build (files.json, written last), so `npm ci`
 * then `npx shrinkray export-site` works, and the second export starts at once.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export type SiteVariant = 'cpu' | 'webgpu';
const DIRS: Record<SiteVariant, string> = {
  cpu: join(root, 'public', 'site-runtime'),
  webgpu: join(root, '.cache', 'site-runtime-webgpu'),
};
export const SITE_RUNTIME = DIRS.cpu;
// Written last: the runtime's file list, which the page reads to export a site; its time stamps the build.
export const SITE_RUNTIME_LIST = 'files.json';
const CONFIG = join(root, 'vite.site.config.ts');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'build' && entry.name !== 'assembly') newest = Math.max(newest, newestSource(path));
    } else if (/\.(ts|tsx|css|html|json)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function isStale(stamp: string): boolean {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const engine = join(root, 'src', 'engine', 'wasm', 'build');
  const wasm = existsSync(engine) ? Math.max(...readdirSync(engine).map((f) => statSync(join(engine, f)).mtimeMs)) : 0;
  return Math.max(newestSource(join(root, 'src')), statSync(CONFIG).mtimeMs, wasm) > built;
}

/** Builds the site runtime when it is missing or older than its sources; returns its folder. */
export async function ensureSiteRuntime(say: (line: string) => void = () => {}, variant: SiteVariant = 'cpu'): Promise<string> {
  const dir = DIRS[variant];
  const stamp = join(dir, SITE_RUNTIME_LIST);
  if (!isStale(stamp)) return dir;
  ensureWasm(); // the engine's wasm files are part of it
  const vite = await import('vite').catch(() => {
    throw new ShrinkrayError('missing_file', `${dir} is missing and cannot be built: vite is not installed (run 'npm ci')`);
  });
  say(`shrinkray: building the demo site runtime${variant === 'webgpu' ? ' with onnxruntime-web' : ''} (about 10 s, once)`);
  try {
    await vite.build({ configFile: CONFIG, logLevel: 'error', mode: variant });
  } catch (e) {
    throw new ShrinkrayError('runtime_error', `building the demo site runtime failed: ${(e as Error).message}`, { cause: e });
  }
  writeFileSync(stamp, `${JSON.stringify(readSiteRuntime(dir).map((f) => f.path))}\n`);
  return dir;
}

/** The built runtime's files (the list left out), '/'-separated paths. */
export function readSiteRuntime(dir = SITE_RUNTIME): RuntimeFile[] {
  const files: RuntimeFile[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && !(at === dir && entry.name === SITE_RUNTIME_LIST))
        files.push({ path: relative(dir, path).split(sep).join('/'), bytes: readFileSync(path) });
    }
  };
  walk(dir);
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

// Builds the library's package contents into dist-lib/ (git-ignored; `npm pack` runs it as prepack):
//   dist-lib/browser/  the browser ESM bundle: index.js, the engine's worker as a chunk of its own, the CPU
//                      engine's wasm as assets, onnxruntime-web as a lazy chunk loaded only for engine 'onnx'
//   dist-lib/node/     the Node ESM entry (dependencies bundled; onnxruntime-web left to an optional install)
//   dist-lib/types/    the declarations of the two entries (tsc), which name only src/lib/engine-api.ts and errors
// Every runtime dependency is bundled, so the tarball installs offline into an empty project.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { rolldown, type RolldownPlugin } from 'rolldown';
import { build } from 'vite';
import { ensureWasm } from './build-wasm.ts';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'dist-lib');

/**
 * The browser bundle, by rolldown (Vite's bundler) without Vite's asset and worker rewriting: the
 * output keeps `new Worker(new URL('./engine.worker.js', import.meta.url))` and
 * `new URL('./build/engine-*.wasm', import.meta.url)` as written, with the files beside it, so a
 * page's own bundler (Vite, webpack, esbuild) follows them as it follows any package's assets.
 * Chunks stay flat in one folder: the relative URLs hold from every chunk.
 */
async function buildBrowser(): Promise<void> {
  const dir = join(out, 'browser');
  // Two bundles, so that they share no chunk: the page's (the front, comlink; the engine itself only in a
  // lazy chunk for `worker: false`) and the worker's (the engine), each loading only its own code.
  const entries = { index: 'src/lib/index.ts', 'engine.worker': 'src/lib/engine.worker.ts' };
  for (const [name, entry] of Object.entries(entries)) {
    const workerUrl: RolldownPlugin = {
      name: 'shrinkray-worker-url',
      renderChunk: (code) => code.replace(/(['"`])\.\/engine\.worker\.ts\1/g, '$1./engine.worker.js$1'),
    };
    const bundle = await rolldown({ input: { [name]: join(root, entry) }, platform: 'browser', logLevel: 'warn', plugins: [workerUrl] });
    await bundle.write({
      dir,
      format: 'es',
      entryFileNames: '[name].js',
      chunkFileNames: `${name}-[name]-[hash].js`,
      minify: true,
    });
    await bundle.close();
  }
  if (!readFileSync(join(dir, 'index.js'), 'utf8').includes('`./engine.worker.js`')) {
    throw new Error("dist-lib/browser/index.js does not start ./engine.worker.js: src/lib/worker-core.ts's worker URL moved");
  }
  copyEngineWasm(join(dir, 'build'));
  // onnxruntime-web's chunk asks for its wasm beside itself (loaded only for engine 'onnx').
  copyFileSync(
    join(root, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.wasm'),
    join(dir, 'ort-wasm-simd-threaded.jsep.wasm'),
  );
}

/** The CPU engine's four builds (plain or relaxed SIMD, one or shared memory) into `to`. */
function copyEngineWasm(to: string): void {
  const wasm = join(root, 'src/engine/wasm/build');
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(wasm).filter((f) => f.startsWith('engine-') && f.endsWith('.wasm'))) copyFileSync(join(wasm, f), join(to, f));
}

async function buildNode(): Promise<void> {
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    publicDir: false,
    ssr: { noExternal: true, external: ['onnxruntime-web'] },
    build: {
      ssr: join(root, 'src/lib/node.ts'),
      target: 'node20',
      outDir: join(out, 'node'),
      emptyOutDir: true,
      minify: false,
      rollupOptions: { output: { entryFileNames: 'index.js', format: 'es' } },
    },
  });
  // The engine's modules are read from `new URL('./build/engine-*.wasm', import.meta.url)` beside the bundle.
  copyEngineWasm(join(out, 'node', 'build'));
}

/** tsc's declarations of the two entries and the two files they name (the rest of src/ stays private). */
function buildTypes(): void {
  const tmp = mkdtempSync(join(tmpdir(), 'shrinkray-dts-'));
  try {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--declaration', '--emitDeclarationOnly', '--noEmit', 'false', '--outDir', tmp, '--rootDir', join(root, 'src')];
    const flags = ['--target', 'ES2022', '--module', 'ESNext', '--moduleResolution', 'Bundler', '--strict', '--skipLibCheck'];
    const more = ['--allowImportingTsExtensions', '--rewriteRelativeImportExtensions', '--lib', 'ES2023,DOM,DOM.Iterable,WebWorker'];
    const files = ['src/lib/index.ts', 'src/lib/node.ts'].map((f) => join(root, f));
    execFileSync(process.execPath, [tsc, ...args, ...flags, ...more, '--types', 'node,vite/client,@webgpu/types', ...files], {
      cwd: root,
      stdio: 'inherit',
    });
    for (const f of ['lib/index.d.ts', 'lib/node.d.ts', 'lib/engine-api.d.ts', 'errors.d.ts']) {
      const to = join(out, 'types', f);
      mkdirSync(dirname(to), { recursive: true });
      writeFileSync(to, readFileSync(join(tmp, f), 'utf8').replace(/(from '\.{1,2}\/[^']+)\.ts'/g, "$1.js'"));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

ensureWasm();
rmSync(out, { recursive: true, force: true });
await buildBrowser();
await buildNode();
buildTypes();
console.log(`dist-lib: built ${out}`);

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The exported demo site's runtime (src/site/): its page, the library's worker and the CPU
 * engine's wasm, and its service worker as a plain sw.js at the root. Two variants, by mode:
 * - 'cpu' (the default): onnxruntime-web stays out (its 28 MB of wasm), the site runs on the CPU
 *   engine. Built into public/site-runtime/, so the app serves it (the stored-models screen's
 *   "Export site" reads it from there) and the CLI's export-site copies it;
 * - 'webgpu' (`export-site --webgpu`): onnxruntime-web comes along, and the page runs on WebGPU
 *   where the visitor has a real GPU. Built into .cache/site-runtime-webgpu/ for the CLI only, so
 *   the app's build and precache do not carry a second copy of onnxruntime-web.
 * scripts/build-site.ts (src/node/site-build.ts) builds either when stale.
 */
export const SITE_RUNTIME_DIRS = Object.freeze({
  cpu: fileURLToPath(new URL('./public/site-runtime/', import.meta.url)),
  webgpu: fileURLToPath(new URL('./.cache/site-runtime-webgpu/', import.meta.url)),
});

export default defineConfig(({ mode }) => {
  const webgpu = mode === 'webgpu';
  return {
    root: fileURLToPath(new URL('./src/site/', import.meta.url)),
    base: './',
    publicDir: false,
    logLevel: 'warn',
    worker: { format: 'es' },
    // The CPU variant: src/site/without-onnxruntime.ts refuses the one path that would need onnxruntime-web.
    resolve: webgpu ? {} : { alias: { 'onnxruntime-web': fileURLToPath(new URL('./src/site/without-onnxruntime.ts', import.meta.url)) } },
    optimizeDeps: { exclude: ['onnxruntime-web'] },
    build: {
      target: 'es2022',
      outDir: webgpu ? SITE_RUNTIME_DIRS.webgpu : SITE_RUNTIME_DIRS.cpu,
      emptyOutDir: true,
      modulePreload: { polyfill: false },
      rollupOptions: {
        input: {
          index: fileURLToPath(new URL('./src/site/index.html', import.meta.url)),
          sw: fileURLToPath(new URL('./src/site/sw.ts', import.meta.url)),
        },
        output: { entryFileNames: (chunk: { name: string }) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
      },
    },
  };
});

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The exported demo site's runtime (src/site/): its page, the library's worker and the CPU
 * engine's wasm, and its service worker as a plain sw.js at the root. Built by
 * scripts/build-site.ts into public/site-runtime/, so the app serves it (the stored-models
 * screen's "Export site" reads it from there) and the CLI's export-site copies it. onnxruntime-web
 * stays out (its 28 MB of wasm): the site runs on the CPU engine.
 */
export const SITE_RUNTIME_DIR = fileURLToPath(new URL('./public/site-runtime/', import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('./src/site/', import.meta.url)),
  base: './',
  publicDir: false,
  logLevel: 'warn',
  worker: { format: 'es' },
  // The site runs on the CPU engine; src/site/without-onnxruntime.ts refuses the one path that would need onnxruntime-web.
  resolve: { alias: { 'onnxruntime-web': fileURLToPath(new URL('./src/site/without-onnxruntime.ts', import.meta.url)) } },
  build: {
    target: 'es2022',
    outDir: SITE_RUNTIME_DIR,
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL('./src/site/index.html', import.meta.url)),
        sw: fileURLToPath(new URL('./src/site/sw.ts', import.meta.url)),
      },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
});

import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { ensureSiteRuntime } from './scripts/build-site.ts';
import { ensureWasm } from './scripts/build-wasm.ts';
import { ISOLATION_HEADERS } from './src/pwa/isolation-headers.ts';

// COOP/COEP make the page cross-origin isolated: SharedArrayBuffer exists and
// onnxruntime-web's wasm backend can use threads. The dev server and `vite preview` send them;
// on a static host the service worker adds them (src/pwa/sw.ts).
export const isolationHeaders = ISOLATION_HEADERS;

// onnxruntime-web's wasm build is ~28 MB; Workbox's default cap (2 MiB) would leave it out.
const PRECACHE_MAX_BYTES = 64 * 1024 * 1024;

// The AssemblyScript kernels are git-ignored build outputs that the bundle refers to with
// `new URL('./build/….wasm', import.meta.url)`: on a fresh clone `vite build` would leave that
// URL dangling and ship a compressor that cannot load. ensureWasm() rebuilds only what is stale.
const wasmKernels: Plugin = { name: 'shrinkray-wasm-kernels', buildStart: () => void ensureWasm() };

// The exported demo site's runtime (vite.site.config.ts), built into public/site-runtime/ when
// stale: the app serves it there, and "Export site" on the stored-models screen zips it with a model.
const siteRuntime: Plugin = {
  name: 'shrinkray-site-runtime',
  buildStart: async () => void (await ensureSiteRuntime()),
  configureServer: async () => void (await ensureSiteRuntime()),
};

export default defineConfig({
  // Relative URLs: dist/ works at a host's root and under any sub-path (e.g. user.github.io/shrinkray/).
  base: './',
  server: { headers: isolationHeaders, host: '127.0.0.1', port: 5173 },
  preview: { headers: isolationHeaders, host: '127.0.0.1', port: 4173 },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022' },
  plugins: [
    wasmKernels,
    siteRuntime,
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src/pwa',
      filename: 'sw.ts',
      // src/pwa/register.ts registers it (imported by src/main.ts) and asks before updating.
      injectRegister: false,
      registerType: 'prompt',
      injectManifest: {
        // The shell, the worker bundles, every wasm file the build emits (onnxruntime-web's and
        // our kernels') and the built-in texts (perplexity offline). Never models/: the demo
        // model and every downloaded model live in IndexedDB, stored by the app.
        // The demo site runtime's file list too, so "Export site" works offline.
        globPatterns: ['**/*.{html,js,mjs,css,wasm,svg,png,webmanifest,txt}', 'site-runtime/files.json'],
        // (manifest.webmanifest: the plugin adds it itself.)
        globIgnores: ['models/**', 'manifest.webmanifest'],
        maximumFileSizeToCacheInBytes: PRECACHE_MAX_BYTES,
      },
      // The glob above already holds the icons and the manifest; listing them again would duplicate entries.
      includeManifestIcons: false,
      manifest: {
        name: 'Shrinkray',
        short_name: 'Shrinkray',
        description: 'Shrink large language models inside the browser tab, then run them there, offline.',
        start_url: './',
        scope: './',
        display: 'standalone',
        theme_color: '#1f3a5f',
        background_color: '#f6f7f9',
        categories: ['developer', 'productivity', 'utilities'],
        // Made by scripts/generate-icons.ts from public/favicon.svg.
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-maskable-192.png', sizes: '192x192', type: 'image/png', purpose: 'maskable' },
          { src: 'icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
    }),
  ],
});

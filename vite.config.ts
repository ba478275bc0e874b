import { defineConfig } from 'vite';

// COOP/COEP make the page cross-origin isolated: SharedArrayBuffer exists and
// onnxruntime-web's wasm backend can use threads.
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers: isolationHeaders, host: '127.0.0.1', port: 5173 },
  preview: { headers: isolationHeaders, host: '127.0.0.1', port: 4173 },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022' },
});

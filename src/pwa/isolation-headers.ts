/**
 * The two headers that make a page cross-origin isolated: SharedArrayBuffer exists and
 * onnxruntime-web's wasm backend can run threads. The dev server and `vite preview` send them
 * (vite.config.ts); on a static host that cannot, the service worker (sw.ts) adds them to the
 * documents and worker scripts it serves.
 *
 * require-corp rather than credentialless: everything the app loads is same-origin, and hub
 * downloads are CORS fetches, which either policy allows; require-corp also works in Safari.
 */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
});

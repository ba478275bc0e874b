/// <reference lib="webworker" />
import { clientsClaim } from 'workbox-core';
import { addPlugins, cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { ISOLATION_HEADERS } from './isolation-headers.ts';

/**
 * Shrinkray's service worker (built by vite-plugin-pwa's injectManifest into dist/sw.js):
 * - precaches the app shell and the onnxruntime-web wasm files (the list Workbox injects below;
 *   vite.config.ts chooses it and leaves out models/), so the app starts offline;
 * - never caches model weights or hub responses: those live in IndexedDB (src/store);
 * - adds COOP/COEP to the documents and worker scripts it serves, so the page is cross-origin
 *   isolated (wasm threads) even on a static host that cannot set headers;
 * - waits for the page's word (SKIP_WAITING) before a new version takes over, so an update
 *   never reloads the page under a running compression (src/pwa/register.ts asks the user).
 */
declare let self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<string | { url: string; revision: string | null }> };

/** A copy of `response` that carries the isolation headers; opaque and redirect responses pass as they are. */
function withIsolationHeaders(response: Response): Response {
  if (response.type === 'opaque' || response.type === 'opaqueredirect' || response.status === 0) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

// Every response the precache serves (shell, workers, wasm, the index.html fallback) gets the headers.
addPlugins([{ handlerWillRespond: async ({ response }) => withIsolationHeaders(response) }]);
precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();

// Any navigation in scope opens the app (e.g. `?model=…&recipe=…` links, offline too); the demo
// model's files, opened directly, stay plain files.
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html'), { denylist: [/\/models\//] }));

// Documents and worker scripts of this origin that the precache does not hold still need the
// headers: a worker script without COEP is refused by an isolated page. Other requests (model
// files, hub downloads) are not touched, so large downloads stream straight from the network.
const ISOLATED_DESTINATIONS = new Set<RequestDestination>(['document', 'iframe', 'worker', 'sharedworker']);
registerRoute(
  ({ request, sameOrigin }) => sameOrigin && ISOLATED_DESTINATIONS.has(request.destination),
  async ({ request }) => withIsolationHeaders(await fetch(request)),
);

self.addEventListener('message', (event) => {
  if ((event.data as { type?: string } | null)?.type === 'SKIP_WAITING') void self.skipWaiting();
});

// The first install controls the open page at once (it works offline without a reload, and the
// page can reload itself into isolation); later versions wait for SKIP_WAITING.
clientsClaim();

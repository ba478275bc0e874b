/// <reference lib="webworker" />
import { ISOLATION_HEADERS } from '../pwa/isolation-headers.ts';
// Type imports only besides that one: a value shared with the page would become a chunk this
// classic (non-module) worker script cannot import.
import type { SiteCacheList } from './site-manifest.ts';

/**
 * The exported demo site's service worker (sw.js at the site's root; scope: the site's folder,
 * so it works at a sub-path). It does two jobs a static host cannot:
 * - offline: the page and its runtime are cached when it installs, the model's files the first
 *   time the page reads them (cache first after that); a new export is a new sw.js (its cache
 *   list holds a version), whose activation drops the old caches;
 * - isolation: every response it serves carries COOP/COEP, so the page is cross-origin
 *   isolated (the engine's threads need SharedArrayBuffer) on hosts that send no such headers.
 * No Workbox: the whole worker is these lines, and the site's runtime stays small.
 */
declare let self: ServiceWorkerGlobalScope;

// Replaced by the exporter (src/jobs/export-site.ts) with the site's SiteCacheList.
const LIST = '__SHRINKRAY_SITE_CACHE__' as unknown as SiteCacheList;
const CACHE = `shrinkray-site-${LIST.version}`;
const scope = new URL(self.registration.scope);
const inSite = (path: string) => new URL(path, scope).href;
const KEPT = new Set([...LIST.shell, ...LIST.lazy].map(inSite));
const INDEX = inSite('index.html');
const MODEL = inSite(LIST.modelDir);

function withIsolationHeaders(response: Response): Response {
  if (response.type === 'opaque' || response.type === 'opaqueredirect' || response.status === 0) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(LIST.shell.map(inSite));
      await self.skipWaiting(); // a demo site runs no job that an update could break
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith('shrinkray-site-') && name !== CACHE) await caches.delete(name);
      await self.clients.claim(); // the open page is served (and can reload into isolation) at once
    })(),
  );
});

/**
 * Cache first for the site's own files; a miss is fetched and kept (whole 200 answers only). Keeping
 * it may fail (the origin's quota is full): the answer is served all the same, only not kept.
 */
async function respond(event: FetchEvent, key: string): Promise<Response> {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(key);
  if (hit) return hit;
  const response = await fetch(event.request);
  if (response.status === 200 && KEPT.has(key)) event.waitUntil(cache.put(key, response.clone()).catch(() => undefined));
  return response;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== scope.origin || !url.href.startsWith(scope.href)) return;
  // The page itself, with or without index.html and a query, is one cache entry.
  const plain = url.origin + url.pathname;
  const key = request.mode === 'navigate' || plain === scope.href ? INDEX : plain;
  // The model folder's files are all listed: the optional ones a loader asks for and the export
  // lacks (chat_template.jinja, …) are answered here, so they are absent offline too, not a network error.
  if (key.startsWith(MODEL) && !KEPT.has(key)) return void event.respondWith(new Response('not in this site', { status: 404 }));
  if (request.headers.has('range') && !KEPT.has(key)) return;
  event.respondWith(respond(event, key).then(withIsolationHeaders));
});

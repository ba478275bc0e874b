/**
 * Before the site's page opens its model: register the service worker (src/site/sw.ts), wait
 * until it controls the page, so the model's files are read through it and kept for offline
 * use, and reload once if the page is not yet cross-origin isolated (a static host sent no
 * COOP/COEP; the worker adds them). Without a service worker (plain http on a host other than
 * localhost, a private window) the page still runs, on one thread and online only.
 */
const RELOAD_MARK = 'shrinkray-site:isolation-reload';
const CONTROL_WAIT_MS = 4000;

export interface SiteReadiness {
  /** The service worker serves the page: it works offline after this visit. */
  offline: boolean;
  /** SharedArrayBuffer exists: the engine may run threads. */
  isolated: boolean;
  /** Why not, when a step failed. */
  note?: string;
}

function reloadedOnce(): boolean {
  try {
    return sessionStorage.getItem(RELOAD_MARK) !== null;
  } catch {
    return true; // no sessionStorage: no guard against a loop, so no reload
  }
}

function mark(on: boolean): void {
  try {
    if (on) sessionStorage.setItem(RELOAD_MARK, '1');
    else sessionStorage.removeItem(RELOAD_MARK);
  } catch {
    // reloadedOnce() already answers "reloaded" without storage
  }
}

function controlled(): Promise<boolean> {
  if (navigator.serviceWorker.controller) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = () => resolve(navigator.serviceWorker.controller !== null);
    navigator.serviceWorker.addEventListener('controllerchange', done, { once: true });
    setTimeout(done, CONTROL_WAIT_MS);
  });
}

/** Resolves when the page may open its model; never resolves when it reloads itself instead. */
export async function prepareSite(): Promise<SiteReadiness> {
  if (globalThis.crossOriginIsolated) mark(false);
  if (!('serviceWorker' in navigator)) {
    return { offline: false, isolated: globalThis.crossOriginIsolated, note: 'this browser gives the page no service worker' };
  }
  try {
    await navigator.serviceWorker.register(new URL('sw.js', document.baseURI), { scope: './' });
    await navigator.serviceWorker.ready;
  } catch (e) {
    return { offline: false, isolated: globalThis.crossOriginIsolated, note: `no service worker: ${(e as Error).message}` };
  }
  const offline = await controlled();
  if (offline && !globalThis.crossOriginIsolated && !reloadedOnce()) {
    mark(true);
    location.reload();
    return new Promise(() => {}); // the reload replaces this page
  }
  return { offline, isolated: globalThis.crossOriginIsolated };
}

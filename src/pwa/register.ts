/// <reference types="vite-plugin-pwa/vanillajs" />
import { registerSW } from 'virtual:pwa-register';
import { isBusy, whenIdle } from './busy-lock.ts';
import { showUpdateNotice } from './update-notice.ts';

/**
 * Registers the service worker (src/pwa/sw.ts) and does the two things only the page can do:
 * - reloads once into cross-origin isolation when the worker first controls a page that a
 *   static host served without COOP/COEP (wasm threads need it);
 * - offers a waiting new version with a notice, never reloading by itself: a reload would
 *   stop a running download or compression, so the user picks the moment.
 * Both reloads also wait until no job holds the busy lock (busy-lock.ts).
 * src/main.ts imports this module for its effect. No service worker in dev (vite serves the
 * headers itself) or where the browser has none (plain http on a non-local host).
 */
const RELOAD_MARK = 'shrinkray:isolation-reload';

function readMark(): boolean {
  try {
    return sessionStorage.getItem(RELOAD_MARK) !== null;
  } catch {
    return true; // no sessionStorage: no guard against a loop, so no reload at all
  }
}

function writeMark(on: boolean): void {
  try {
    if (on) sessionStorage.setItem(RELOAD_MARK, String(Date.now()));
    else sessionStorage.removeItem(RELOAD_MARK);
  } catch {
    // readMark() already answers "reloaded" without storage
  }
}

/**
 * Reloads if the service worker controls this page but the page is not isolated: the document
 * came from the network before the worker could add the headers. Once per tab session: if the
 * reload did not isolate it (a browser that ignores the headers), the app runs on one thread.
 */
function reloadIntoIsolation(): void {
  if (globalThis.crossOriginIsolated) {
    writeMark(false);
    return;
  }
  if (!navigator.serviceWorker.controller || readMark()) return;
  void whenIdle().then(() => {
    if (readMark()) return; // a second controllerchange got here first
    writeMark(true);
    location.reload();
  });
}

/** "Update now": waits for running jobs, then lets the new worker take over (the page reloads on its 'controlling'). */
async function updateWhenIdle(update: () => Promise<void>, say: (text: string) => void): Promise<void> {
  if (await isBusy()) say('The update will start when the running job finishes.');
  await whenIdle();
  say('Updating…');
  await update();
}

if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  reloadIntoIsolation();
  navigator.serviceWorker.addEventListener('controllerchange', reloadIntoIsolation);
  const update = registerSW({
    onNeedRefresh: () => showUpdateNotice((say) => updateWhenIdle(update, say)),
    onRegisterError: (e: unknown) =>
      console.warn('Shrinkray: the service worker could not be registered; the app will not work offline.', e),
  });
}

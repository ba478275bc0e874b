import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { openModelStore, type IdbModelStore } from '../../src/store/idb-store.ts';
import { liveSessions } from '../../src/store/session-lock.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import type { StoreSessionApi } from './store-session.worker.ts';

/**
 * Exact orphan collection with Web Locks (issue 10, item 11), in Chromium: a staged write of
 * another tab (a worker with its own store session) is never collected while that tab lives,
 * however long it has been idle, and is collected at once when it is gone; two sessions
 * never write one stage.
 */
const stores: IdbModelStore[] = [];
const workers: Worker[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const w of workers.splice(0)) w.terminate();
});

async function store(name: string): Promise<IdbModelStore> {
  const s = await openModelStore({ name, collectGarbage: false, chunkBytes: 64 * 1024 });
  stores.push(s);
  return s;
}

function otherTab(): { api: Comlink.Remote<StoreSessionApi>; close: () => void } {
  const worker = new Worker(new URL('./store-session.worker.ts', import.meta.url), { type: 'module' });
  workers.push(worker);
  return { api: Comlink.wrap<StoreSessionApi>(worker), close: () => worker.terminate() };
}

/** Polls until `check` holds: a terminated worker's lock is released by the browser soon after, not at once. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`still not true after 5 s: ${what}`);
}

describe('store sessions through Web Locks', () => {
  it("another tab's idle write is kept while the tab lives, and collected at once when it is gone", async () => {
    const name = `sessions-${Date.now()}`;
    const tab = otherTab();
    expect(await tab.api.stage(name, 'compress-out', false)).toBe(3 * 64 * 1024);
    const here = await store(name);
    expect((await liveSessions(name))?.size).toBe(2); // the worker's session and this one

    // Without Web Locks an idle non-resumable stage older than orphanAfterMs is taken for an orphan; with them, never while its tab lives.
    const kept = await here.collectGarbage({ orphanAfterMs: 0, now: Date.now() + 24 * 3600_000 });
    expect(kept).toEqual({ chunksDeleted: 0, filesDeleted: 0, stagesDeleted: 0 });
    expect((await here.listStaged()).map((s) => s.stageKey)).toEqual(['compress-out']);

    tab.close(); // the tab closes (or crashes): the browser releases its lock
    await eventually(async () => (await liveSessions(name))?.size === 1, "the closed tab's lock is released");
    const collected = await here.collectGarbage(); // default limits: no 10-minute wait
    expect(collected).toEqual({ chunksDeleted: 3, filesDeleted: 0, stagesDeleted: 1 });
    expect(await here.listStaged()).toEqual([]);
  });

  it('a resumable stage another live tab writes cannot be opened here; once it is gone, it resumes', async () => {
    const name = `sessions-resume-${Date.now()}`;
    const tab = otherTab();
    await tab.api.stage(name, 'download', true);
    const here = await store(name);
    await expectShrinkrayError(
      here.stageFile('download', { name: 'onnx/model.onnx', resumable: true }),
      'bad_argument',
      'onnx/model.onnx: another tab or worker is writing it right now; wait for it, or close it',
    );
    tab.close();
    await eventually(async () => (await liveSessions(name))?.size === 1, "the closed tab's lock is released");
    const w = await here.stageFile('download', { name: 'onnx/model.onnx', resumable: true });
    expect(w.position).toBe(3 * 64 * 1024); // resumed where the other tab stopped
    // A resumable stage of a gone session stays for the next attempt.
    expect((await here.collectGarbage()).stagesDeleted).toBe(0);
  });
});

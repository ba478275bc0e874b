import * as Comlink from 'comlink';
import { openModelStore, type IdbModelStore } from '../../src/store/idb-store.ts';

/**
 * Another tab, standing in: a worker with its own store session (and so its own Web Lock)
 * that stages a file and leaves it unfinished, as a long compression writing would. The
 * test terminates the worker to stand for the tab closing or crashing.
 */
let store: IdbModelStore | undefined;
const api = {
  async stage(dbName: string, stageKey: string, resumable: boolean): Promise<number> {
    store ??= await openModelStore({ name: dbName, collectGarbage: false, chunkBytes: 64 * 1024 });
    const w = await store.stageFile(stageKey, { name: 'onnx/model.onnx', resumable });
    await w.write(new Uint8Array(3 * 64 * 1024).fill(7));
    return w.position;
  },
};

export type StoreSessionApi = typeof api;
Comlink.expose(api);

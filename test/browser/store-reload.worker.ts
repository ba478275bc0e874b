import * as Comlink from 'comlink';
import { openModelStore } from '../../src/store/idb-store.ts';
import { Sha256 } from '../../src/store/sha256.ts';

/**
 * A fresh JavaScript context standing in for a reloaded page: it opens the model store
 * on its own IndexedDB connection, with fetch disabled, lists the models and hashes every
 * file of one of them as read back from the store.
 */
const api = {
  async readBack(dbName: string, modelId: string) {
    let fetches = 0;
    globalThis.fetch = (() => {
      fetches++;
      return Promise.reject(new TypeError('network disabled: a stored model must load without it'));
    }) as typeof fetch;
    const store = await openModelStore({ name: dbName });
    try {
      const models = (await store.listModels()).map((m) => m.id);
      const model = await store.getModel(modelId);
      const files: Record<string, { size: number; sha256: string }> = {};
      for (const f of model?.files ?? []) {
        const src = await store.openFile(f.fileId, f.path);
        const hash = await Sha256.create();
        const piece = 1 << 20;
        for (let at = 0; at < src.size; at += piece) hash.update(await src.read(at, Math.min(piece, src.size - at)));
        files[f.path] = { size: src.size, sha256: hash.hex() };
      }
      return { models, files, fetches };
    } finally {
      store.close();
    }
  },
};

export type StoreReloadApi = typeof api;
Comlink.expose(api);

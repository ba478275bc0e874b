import { openModelStore } from '../store/idb-store.ts';
import { getManifest, storedFileOpener } from '../worker/stored-model.ts';
import type { LoadProgress } from './engine-api.ts';
import { fileListOpener } from './file-list-opener.ts';
import type { SourceSpec } from './source-spec.ts';
import { urlFolderOpener, type FolderOpener } from './url-folder-opener.ts';

/** A source spec (source-spec.ts) opened where the model runs: the page's thread or the library's worker. */
/** The files the loader reads, and what to close when the engine is unloaded. */
export async function openSpec(
  spec: SourceSpec,
  onProgress?: (p: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<{ folder: FolderOpener; close?: () => void }> {
  if (spec.kind === 'url') return { folder: urlFolderOpener(spec.url, onProgress, signal) };
  if (spec.kind === 'files') return { folder: fileListOpener(spec.files) };
  const store = await openModelStore({ ...(spec.storeName ? { name: spec.storeName } : {}), collectGarbage: false });
  try {
    const manifest = await getManifest(store, spec.id);
    const open = storedFileOpener(store, manifest);
    return { folder: { open, display: (path) => `${spec.id}/${path}`, where: `stored model '${spec.id}'` }, close: () => store.close() };
  } catch (e) {
    store.close();
    throw e;
  }
}

import { blobSource, type OpenModelFile } from '../formats/byte-source.ts';
import { openModelStore } from '../store/idb-store.ts';
import { browserEngineHost } from '../worker/chat-model.ts';
import { normalisePaths } from '../worker/local-import.ts';
import type { LocalFile } from '../worker/protocol.ts';
import { getManifest, storedFileOpener } from '../worker/stored-model.ts';
import type { SourceSpec } from './arguments.ts';
import type { CreateEngineOptions, LoadProgress } from './engine-api.ts';
import { openCore, type EngineCore } from './engine-core.ts';
import { urlFolderOpener, type FolderOpener } from './url-folder-opener.ts';

/**
 * A source spec (arguments.ts) opened where the model runs, the library's worker or the page's own
 * thread: a URL folder (url-folder-opener.ts), picked files, or a model in the page's store.
 */

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

/**
 * A model folder the user picked (an <input webkitdirectory>, a drop): its files by their paths
 * in the folder, read in slices where they lie (a File is never read whole up front).
 */
export function fileListOpener(files: LocalFile[]): FolderOpener {
  const { files: clean, folder } = normalisePaths(files);
  const byPath = new Map(clean.map((f) => [f.path, f.file]));
  const where = folder ? `the picked folder '${folder}'` : `the picked files (${clean.map((f) => f.path).join(', ')})`;
  const display = (path: string) => (folder ? `${folder}/${path}` : path);
  const open: OpenModelFile = async (path) => {
    const file = byPath.get(path);
    return file ? blobSource(file, display(path)) : undefined;
  };
  return { open, display, where };
}

/**
 * The engine on the page's own thread (`worker: false`): loaded on demand by index.ts, so a page
 * that runs the engine in its worker (the default) never downloads the engine twice.
 */
export async function localCore(spec: SourceSpec, o: CreateEngineOptions): Promise<EngineCore> {
  const { folder, close } = await openSpec(spec, o.onProgress, o.signal);
  return openCore(folder, browserEngineHost, o, close);
}

import { openGgufUrl } from '../fetch/gguf-url.ts';
import { downloadFile } from '../fetch/ranged-download.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { checkQuota, requestPersistence } from '../store/quota.ts';
import type { ModelStore } from '../store/store-types.ts';
import { ModelWriter } from './model-writer.ts';
import { writeModelParts } from './parts-writer.ts';
import type { ProgressCallback } from './protocol.ts';

/**
 * A GGUF file at a URL into the store (the hub box takes an https://…/model.gguf URL): the
 * header is parsed and checked by Range requests (architecture, tensor types and shapes, the
 * tokenizer) before a weight byte moves; the quota is checked for the file plus its fp32
 * conversion; the file comes down by the resumable ranged downloader into a staged write of
 * the store, under a key a reload resumes; its tensors are read from there one at a time into
 * the Hugging Face form, committed as one model; the staged GGUF is then deleted.
 */
export const ggufStageKey = (url: string) => `gguf-url:${url}`;

export async function importGgufFromUrl(
  store: ModelStore,
  url: string,
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
): Promise<ModelManifest> {
  const remote = await openGgufUrl(url, { signal });
  // Loaded on demand: the GGUF parser brings tables the other imports never need.
  const { importGguf } = await import('../model/import-gguf.ts');
  const checked = await importGguf(remote.source);
  const fp32Bytes = [...checked.ir.tensors.values()].reduce((s, t) => s + t.byteLength, 0);
  const stageKey = ggufStageKey(remote.url);
  const staged = (await store.listStaged()).find((s) => s.stageKey === stageKey)?.storedBytes ?? 0;
  await checkQuota(remote.source.size - staged + fp32Bytes, `${remote.name} and its fp32 conversion`);
  await requestPersistence();

  const file = await downloadFile({
    url: remote.url,
    name: remote.name,
    signal,
    headers: remote.headers,
    expectedSize: remote.source.size,
    stage: (request) => store.stageFile(stageKey, request),
    onProgress:
      onProgress &&
      ((p) => onProgress({ stage: 'download', done: p.done, total: p.total, item: remote.name, bytesPerSecond: p.bytesPerSecond })),
  });
  const id = `url:${remote.url}`;
  let done = 0;
  const writer = new ModelWriter(store, id, signal, (n) => onProgress?.({ stage: 'import', done: (done += n), total: fp32Bytes }));
  try {
    const parts = await importGguf(await store.openFile(file.fileId, remote.name));
    await writeModelParts(writer, parts);
    const manifest = await writer.commit({ source: { kind: 'local', name: remote.name } });
    await store.discardStaged(stageKey);
    return manifest;
  } catch (e) {
    await writer.discard();
    throw e;
  }
}

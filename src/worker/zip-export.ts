import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { ShrinkrayError } from '../errors.ts';
import type { ModelStore } from '../store/store-types.ts';
import { throwIfAborted } from './cancel.ts';
import type { ProgressCallback } from './protocol.ts';
import { getManifest, storedFileOpener } from './stored-model.ts';

/**
 * A stored compressed model as a zip in transformers.js layout (config.json, tokenizer
 * files, onnx/model.onnx [+ model.onnx_data], shrinkray.json), read from the store one
 * chunk at a time. Weights are stored uncompressed (packed integers barely deflate, and
 * stored entries import back by slicing); JSON files are deflated. The zip is a Blob of
 * parts, which the browser may keep on disk rather than in memory.
 */
const PIECE = 8 * 1024 * 1024;
// fflate's Zip has no zip64: the local and central headers hold 32-bit sizes.
const MAX_ZIP_BYTES = 2 ** 32 - 1;

export async function exportModelZip(
  store: ModelStore,
  modelId: string,
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
): Promise<Blob> {
  const manifest = await getManifest(store, modelId);
  if (!manifest.files.some((f) => f.path === MODEL_FILES.onnxModel)) {
    throw new ShrinkrayError(
      'bad_argument',
      `model '${modelId}' is not a compressed model (no onnx/model.onnx); only compressed models export as a transformers.js folder`,
    );
  }
  const total = manifest.files.reduce((s, f) => s + f.size, 0);
  if (total > MAX_ZIP_BYTES)
    throw new ShrinkrayError('bad_argument', `model '${modelId}' is ${total} bytes; zips over 4 GiB (zip64) are not supported`);
  // Parts are folded into Blobs every 64 MiB, so the browser can move them out of this heap.
  const blobs: Blob[] = [];
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  const fold = () => {
    blobs.push(new Blob(parts as BlobPart[]));
    parts = [];
    partBytes = 0;
  };
  let failure: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) return void (failure = err);
    parts.push(chunk);
    partBytes += chunk.byteLength;
    if (partBytes >= 64 * 1024 * 1024) fold();
  });
  const open = storedFileOpener(store, manifest);
  let done = 0;
  for (const f of manifest.files) {
    throwIfAborted(signal, `exporting ${modelId}`);
    const entry = f.path.endsWith('.json') ? new ZipDeflate(f.path, { level: 6 }) : new ZipPassThrough(f.path);
    zip.add(entry);
    const src = (await open(f.path))!;
    if (src.size === 0) entry.push(new Uint8Array(0), true);
    for (let at = 0; at < src.size; at += PIECE) {
      throwIfAborted(signal, `exporting ${modelId}`);
      const n = Math.min(PIECE, src.size - at);
      entry.push(await src.read(at, n), at + n >= src.size);
      done += n;
      onProgress?.({ stage: 'export', done, total, item: f.path });
    }
    if (failure) throw new ShrinkrayError('runtime_error', `zipping ${f.path} failed: ${(failure as Error).message}`);
  }
  zip.end();
  fold();
  return new Blob(blobs, { type: 'application/zip' });
}

import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { ShrinkrayError } from '../errors.ts';
import type { ModelStore } from '../store/store-types.ts';
import { throwIfAborted } from './cancel.ts';
import type { ProgressCallback } from './protocol.ts';
import { getManifest, storedFileOpener } from './stored-model.ts';
import { checkZipSize, zipSink } from './zip-sink.ts';

/**
 * A stored compressed model as a zip in transformers.js layout (config.json, tokenizer
 * files, onnx/model.onnx [+ model.onnx_data], shrinkray.json), read from the store one
 * chunk at a time. Weights are stored uncompressed (packed integers barely deflate, and
 * stored entries import back by slicing); JSON files are deflated. The zip is a Blob of
 * parts, which the browser may keep on disk rather than in memory.
 */
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
  checkZipSize(modelId, total);
  let done = 0;
  const zip = zipSink({
    beforePiece: () => throwIfAborted(signal, `exporting ${modelId}`),
    onBytes: (n, item) => {
      done += n;
      onProgress?.({ stage: 'export', done, total, item });
    },
  });
  const open = storedFileOpener(store, manifest);
  for (const f of manifest.files) {
    throwIfAborted(signal, `exporting ${modelId}`);
    await zip.copy(f.path, (await open(f.path))!);
  }
  return zip.finish();
}

import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from '../formats/byte-source.ts';
import type { SafetensorsTensor } from '../formats/safetensors.ts';
import { HF_FILES, openHfModel, readJsonSource } from '../model/hf-model.ts';
import type { ModelIR, TensorHandle } from '../model/ir.ts';
import type { ModelManifest } from '../store/manifest.ts';
import type { ModelStore } from '../store/store-types.ts';

/**
 * A model in the store, opened for compression: its config and lazy tensor handles over
 * the stored chunks. fp32 tensors are read straight into their final Float32Array one
 * store chunk at a time, so reading a tensor costs its own size plus one chunk, not the
 * two or three copies a whole-range read and a decode would make.
 */
export interface StoredHfModel {
  manifest: ModelManifest;
  ir: ModelIR;
  configJson: Record<string, unknown>;
  /** Bytes of the weight files (the model's size before compression). */
  weightBytes: number;
}

// Reads are split at multiples of this, the store's chunk size, so each read is one chunk (a view, no copy).
export const READ_PIECE_BYTES = 8 * 1024 * 1024;

/** Opens a stored model's file by path; undefined when the model has no such file. */
export function storedFileOpener(store: ModelStore, manifest: ModelManifest): (path: string) => Promise<ByteSource | undefined> {
  return async (path) => (manifest.files.some((f) => f.path === path) ? store.openModelFile(manifest.id, path) : undefined);
}

export async function getManifest(store: ModelStore, modelId: string): Promise<ModelManifest> {
  const manifest = await store.getModel(modelId);
  if (!manifest) throw new ShrinkrayError('missing_file', `model '${modelId}' is not in the store`);
  return manifest;
}

export async function openStoredHfModel(store: ModelStore, modelId: string): Promise<StoredHfModel> {
  const manifest = await getManifest(store, modelId);
  if (!manifest.files.some((f) => f.path === HF_FILES.weights || f.path === HF_FILES.weightIndex)) {
    throw new ShrinkrayError('missing_file',
      `model '${modelId}' has no ${HF_FILES.weights} or ${HF_FILES.weightIndex} to compress (files: ${manifest.files.map((f) => f.path).join(', ')})`);
  }
  const { ir, configJson, weights } = await openHfModel(storedFileOpener(store, manifest));
  const tensors = new Map<string, TensorHandle>();
  for (const [name, t] of weights.tensors) tensors.set(name, streamingHandle(t, weights.sourceOf.get(name)));
  const weightBytes = [...new Set(weights.sourceOf.values())].reduce((sum, src) => sum + src.size, 0);
  return { manifest, ir: { config: ir.config, tensors }, configJson, weightBytes };
}

/** fp32 tensors read piecewise into one buffer; other dtypes decode as the format does. */
function streamingHandle(t: SafetensorsTensor, src: ByteSource | undefined): TensorHandle {
  if (t.dtype !== 'F32' || !src) return t;
  return {
    name: t.name, dtype: t.dtype, shape: t.shape, byteLength: t.byteLength,
    async read() {
      const out = new Float32Array(t.byteLength / 4); // the tensor, row-major as stored
      const bytes = new Uint8Array(out.buffer);
      for (let at = 0; at < t.byteLength;) {
        const fileAt = t.fileOffset + at;
        const end = Math.min(t.byteLength, (Math.floor(fileAt / READ_PIECE_BYTES) + 1) * READ_PIECE_BYTES - t.fileOffset);
        bytes.set(await src.read(fileAt, end - at), at);
        at = end;
      }
      return out;
    },
  };
}

/** Reads a small JSON file of a stored model, or undefined when it has none. */
export async function readStoredJson(store: ModelStore, manifest: ModelManifest, path: string): Promise<Record<string, unknown> | undefined> {
  const src = await storedFileOpener(store, manifest)(path);
  return src ? readJsonSource(src) : undefined;
}

import { ShrinkrayError } from '../errors.ts';
import { checkRange, type ByteSource } from '../formats/byte-source.ts';
import type { SafetensorsTensor } from '../formats/safetensors.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { openHfModel, weightFileBytes } from '../model/hf-model.ts';
import { foldGemmaNorms } from '../model/gemma-norms.ts';
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
  /** What reading tensors has cost so far (fp32 tensors read through the store), for the report. */
  reads: { bytes: number; ms: number };
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
  if (!manifest.files.some((f) => f.path === MODEL_FILES.weights || f.path === MODEL_FILES.weightIndex)) {
    throw new ShrinkrayError(
      'missing_file',
      `model '${modelId}' has no ${MODEL_FILES.weights} or ${MODEL_FILES.weightIndex} to compress (files: ${manifest.files.map((f) => f.path).join(', ')})`,
    );
  }
  const open = storedFileOpener(store, manifest);
  const { ir, configJson, weights } = await openHfModel(async (path) => {
    const src = await open(path);
    return src && path.endsWith('.safetensors') ? pieceCachedSource(src) : src;
  });
  const tensors = new Map<string, TensorHandle>();
  const reads = { bytes: 0, ms: 0 };
  for (const [name, t] of weights.tensors) tensors.set(name, streamingHandle(t, weights.sourceOf.get(name), reads));
  foldGemmaNorms(ir.config, tensors); // as openHfModel's own IR: Gemma's norm weights read as 1 + w
  return { manifest, ir: { config: ir.config, tensors }, configJson, weightBytes: weightFileBytes(weights), reads };
}

/**
 * Reads whole pieces (store chunks) and keeps the last few: neighbouring tensors share a
 * chunk, and without this each small tensor would fetch its 8 MiB chunk again (measured:
 * 283 MB read as ~1.4 GB, 6.4 s). A range inside one piece comes back as a view.
 */
export function pieceCachedSource(src: ByteSource, pieceBytes = READ_PIECE_BYTES, keep = 2): ByteSource {
  const cache = new Map<number, Promise<Uint8Array>>(); // piece index -> its bytes; Map order = recency
  const piece = (i: number): Promise<Uint8Array> => {
    let p = cache.get(i);
    if (p) cache.delete(i);
    else p = src.read(i * pieceBytes, Math.min(pieceBytes, src.size - i * pieceBytes));
    cache.set(i, p);
    p.catch(() => cache.delete(i));
    while (cache.size > keep) cache.delete(cache.keys().next().value!);
    return p;
  };
  return {
    name: src.name,
    size: src.size,
    async read(offset, length) {
      checkRange(src.name, src.size, offset, length);
      const first = Math.floor(offset / pieceBytes);
      const last = Math.floor((offset + length - 1) / pieceBytes);
      if (length === 0) return new Uint8Array(0);
      if (first === last) return (await piece(first)).subarray(offset - first * pieceBytes, offset - first * pieceBytes + length);
      const out = new Uint8Array(length);
      for (let i = first; i <= last; i++) {
        const bytes = await piece(i);
        const from = Math.max(offset, i * pieceBytes);
        const to = Math.min(offset + length, (i + 1) * pieceBytes);
        out.set(bytes.subarray(from - i * pieceBytes, to - i * pieceBytes), from - offset);
      }
      return out;
    },
  };
}

/** fp32 tensors read piecewise into one buffer; other dtypes decode as the format does. */
function streamingHandle(t: SafetensorsTensor, src: ByteSource | undefined, reads: { bytes: number; ms: number }): TensorHandle {
  if (t.dtype !== 'F32' || !src) return t;
  return {
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    byteLength: t.byteLength,
    async read() {
      const t0 = performance.now();
      const out = new Float32Array(t.byteLength / 4); // the tensor, row-major as stored
      const bytes = new Uint8Array(out.buffer);
      for (let at = 0; at < t.byteLength;) {
        const fileAt = t.fileOffset + at;
        const end = Math.min(t.byteLength, (Math.floor(fileAt / READ_PIECE_BYTES) + 1) * READ_PIECE_BYTES - t.fileOffset);
        bytes.set(await src.read(fileAt, end - at), at);
        at = end;
      }
      reads.bytes += t.byteLength;
      reads.ms += performance.now() - t0;
      return out;
    },
  };
}

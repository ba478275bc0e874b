import type { ByteSource } from '../formats/byte-source.ts';
import type { ManifestFile, ModelManifest } from '../store/manifest.ts';
import type { ModelStore, StagedFileWriter } from '../store/store-types.ts';
import { throwIfAborted } from './cancel.ts';

/**
 * Writes the files of a new model into the store as staged (non-resumable) files, then
 * commits one manifest. Until the commit nothing is visible; `discard()` removes what was
 * staged, and a worker killed mid-way leaves stages that the store's garbage collection
 * removes at a later start.
 */
export class ModelWriter {
  readonly files: ManifestFile[] = [];
  private readonly open = new Set<StagedFileWriter>();
  private readonly nonce = globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;

  constructor(
    private readonly store: ModelStore,
    private readonly modelId: string,
    private readonly signal?: AbortSignal,
    private readonly onBytes?: (n: number) => void,
  ) {}

  /** Writes one file from in-memory parts, in order. */
  async write(path: string, parts: readonly Uint8Array[] | Uint8Array): Promise<void> {
    await this.writeStream(
      path,
      (async function* () {
        yield* parts instanceof Uint8Array ? [parts] : parts;
      })(),
    );
  }

  /** Writes one file from parts made one at a time (a converted checkpoint, a zip entry): only one part is held. */
  async writeStream(path: string, parts: AsyncIterable<Uint8Array>): Promise<void> {
    const writer = await this.stage(path);
    for await (const part of parts) {
      // Whole store chunks at a time keep progress and cancellation responsive on big parts.
      for (let at = 0; at < part.byteLength; at += PIECE) {
        throwIfAborted(this.signal, `writing ${path}`);
        const piece = part.subarray(at, Math.min(part.byteLength, at + PIECE));
        await writer.write(piece, this.signal);
        this.onBytes?.(piece.byteLength);
      }
    }
    await this.finish(path, writer);
  }

  /** Copies a stored file (tokenizer, config) piece by piece. */
  async copy(path: string, src: ByteSource): Promise<void> {
    const writer = await this.stage(path);
    for (let at = 0; at < src.size; at += PIECE) {
      throwIfAborted(this.signal, `copying ${path}`);
      const piece = await src.read(at, Math.min(PIECE, src.size - at));
      await writer.write(piece, this.signal);
      this.onBytes?.(piece.byteLength);
    }
    await this.finish(path, writer);
  }

  writeJson(path: string, value: unknown): Promise<void> {
    return this.write(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n'));
  }

  /** Makes the model visible, all at once. */
  async commit(manifest: Omit<ModelManifest, 'files' | 'id'>): Promise<ModelManifest> {
    throwIfAborted(this.signal, `storing model '${this.modelId}'`);
    const full: ModelManifest = { ...manifest, id: this.modelId, files: [...this.files] };
    await this.store.commitModel(full);
    this.open.clear();
    return full;
  }

  /** Removes every file staged so far (after a failure or a cancel). */
  async discard(): Promise<void> {
    for (const w of this.open) await w.discard().catch(() => undefined);
    this.open.clear();
  }

  private async stage(path: string): Promise<StagedFileWriter> {
    throwIfAborted(this.signal, `writing ${path}`);
    const w = await this.store.stageFile(`new:${this.modelId}:${this.nonce}/${path}`, { name: path, resumable: false });
    this.open.add(w);
    return w;
  }

  private async finish(path: string, writer: StagedFileWriter): Promise<void> {
    const info = await writer.finish();
    this.files.push({ path, fileId: info.fileId, size: info.size, sha256: info.sha256 });
  }
}

const PIECE = 8 * 1024 * 1024;

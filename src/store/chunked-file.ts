import { ShrinkrayError, isShrinkrayError } from '../errors.ts';
import { checkRange, type ByteSource } from '../formats/byte-source.ts';
import type { IDBPTransaction } from 'idb';
import { chunkRange, type FileRecord, type StageRecord, type StoreDb, type StoreSchema } from './idb-schema.ts';
import { isQuotaError, quotaError } from './quota.ts';
import { Sha256 } from './sha256.ts';
import type { StagedFileWriter, StoredFileInfo } from './store-types.ts';

/**
 * One file in the store as fixed-size chunks, so no multi-gigabyte ArrayBuffer ever
 * exists. The writer stores each chunk together with the staging record (stored bytes and
 * the sha-256 state) in one transaction, so a cut at any point leaves a record that says
 * exactly which bytes are safely stored, and a resumed write continues from there.
 */

type StageTx = IDBPTransaction<StoreSchema, ('chunks' | 'staging' | 'files')[], 'readwrite'>;

/** The bytes of a view as an ArrayBuffer of exactly that length (IndexedDB clones whole buffers). */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

export class ChunkedFileWriter implements StagedFileWriter {
  private buffer: Uint8Array | undefined; // the chunk being filled
  private buffered = 0;
  private readonly hash: Sha256; // over the stored chunks; resumed by the store from record.hash
  private busy = false;
  private broken: unknown; // a failed chunk store leaves this writer out of step with the database
  private inflight: Promise<void> | undefined; // the last chunk's transaction, still committing
  private done: StoredFileInfo | undefined;

  constructor(
    private readonly db: StoreDb,
    private record: StageRecord,
    hash: Sha256,
    private readonly onGone: (stageKey: string) => void,
  ) {
    this.hash = hash;
  }

  get fileId(): string {
    return this.record.fileId;
  }
  get name(): string {
    return this.record.name;
  }
  get position(): number {
    return this.record.storedBytes + this.buffered;
  }
  get meta(): Readonly<Record<string, string>> {
    return this.record.meta;
  }

  async write(bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    this.enter();
    try {
      if (signal?.aborted) await this.abortWith(signal);
      const { expectedSize, name } = this.record;
      if (expectedSize !== undefined && this.position + bytes.byteLength > expectedSize) {
        await this.discardQuietly();
        throw new ShrinkrayError(
          'bad_file',
          `${name}: got more than the expected ${expectedSize} bytes (at least ${this.position + bytes.byteLength})`,
        );
      }
      const cb = this.record.chunkBytes;
      let at = 0;
      while (at < bytes.byteLength) {
        const take = Math.min(cb - this.buffered, bytes.byteLength - at);
        if (this.buffered === 0 && take === cb) {
          await this.storeChunk(bytes.subarray(at, at + cb)); // a whole chunk: no copy into the buffer
        } else {
          this.buffer ??= new Uint8Array(cb);
          this.buffer.set(bytes.subarray(at, at + take), this.buffered);
          this.buffered += take;
          if (this.buffered === cb) {
            await this.storeChunk(this.buffer);
            this.buffered = 0;
          }
        }
        at += take;
        if (signal?.aborted) await this.abortWith(signal);
      }
    } finally {
      this.busy = false;
    }
  }

  async finish(): Promise<StoredFileInfo> {
    if (this.done) return this.done;
    this.enter();
    try {
      await this.settle();
      const r = this.record;
      const size = r.storedBytes + this.buffered;
      const last = this.buffered > 0 ? this.buffer!.subarray(0, this.buffered) : undefined;
      const sha256 = r.complete && r.expectedSha256 ? r.expectedSha256 : this.hash.update(last ?? new Uint8Array(0)).hex();
      if (r.expectedSize !== undefined && size !== r.expectedSize) {
        await this.discardQuietly();
        throw new ShrinkrayError('bad_file', `${r.name}: size mismatch: expected ${r.expectedSize} bytes, got ${size}`);
      }
      if (r.expectedSha256 !== undefined && sha256 !== r.expectedSha256.toLowerCase()) {
        await this.discardQuietly();
        throw new ShrinkrayError('bad_file', `${r.name}: sha-256 mismatch: expected ${r.expectedSha256}, got ${sha256} (${size} bytes)`);
      }
      const chunkCount = r.chunksStored + (last ? 1 : 0);
      const file: FileRecord = { fileId: r.fileId, name: r.name, size, sha256, chunkBytes: r.chunkBytes, chunkCount, complete: true };
      const record: StageRecord = {
        ...r,
        chunksStored: chunkCount,
        storedBytes: size,
        complete: true,
        expectedSha256: sha256,
        updatedAt: Date.now(),
      };
      await this.transact(
        (tx) => [
          ...(last ? [tx.objectStore('chunks').put(exactBuffer(last), [r.fileId, r.chunksStored])] : []),
          tx.objectStore('files').put(file),
          tx.objectStore('staging').put(record),
        ],
        size,
      );
      this.record = record;
      this.buffered = 0;
      this.buffer = undefined;
      this.done = { fileId: r.fileId, name: r.name, size, sha256 };
      return this.done;
    } finally {
      this.busy = false;
    }
  }

  /** Deletes the stage. Transactions run in the order they are created, so a chunk still in flight lands before this deletes it. */
  async discard(): Promise<void> {
    this.inflight = undefined;
    this.buffered = 0;
    this.buffer = undefined;
    const { stageKey, fileId } = this.record;
    const tx = this.db.transaction(['chunks', 'staging', 'files'], 'readwrite');
    void tx.objectStore('chunks').delete(chunkRange(fileId));
    void tx.objectStore('staging').delete(stageKey);
    // A finished but uncommitted file goes too; a committed one is never staged under this key.
    void tx.objectStore('files').delete(fileId);
    await tx.done;
    this.onGone(stageKey);
  }

  private enter(): void {
    if (this.busy) throw new ShrinkrayError('bad_argument', `${this.record.name}: one write at a time, please (await the previous one)`);
    if (this.done) throw new ShrinkrayError('bad_argument', `${this.record.name}: already finished`);
    if (this.broken) {
      // A named failure (quota) is the answer to every later call too; others get a pointer to it.
      if (isShrinkrayError(this.broken)) throw this.broken;
      throw new ShrinkrayError('bad_argument', `${this.record.name}: an earlier write failed; stage the file again to resume`, {
        cause: this.broken,
      });
    }
    this.busy = true;
  }

  private async storeChunk(chunk: Uint8Array): Promise<void> {
    await this.settle(); // at most one transaction in flight: memory stays bounded
    const r = this.record;
    this.hash.update(chunk);
    const record: StageRecord = {
      ...r,
      chunksStored: r.chunksStored + 1,
      storedBytes: r.storedBytes + chunk.byteLength,
      hash: this.hash.state(),
      updatedAt: Date.now(),
    };
    // put() clones the bytes at once; the commit is awaited at the next chunk, so hashing
    // that chunk overlaps this one's commit.
    const committed = this.transact(
      (tx) => [tx.objectStore('chunks').put(exactBuffer(chunk), [r.fileId, r.chunksStored]), tx.objectStore('staging').put(record)],
      r.storedBytes,
    ).catch((e: unknown) => {
      // The stored state is still the record before this chunk; this writer can no longer
      // continue in step with it, but a new stageFile() resumes from it.
      this.broken = e;
      throw e;
    });
    committed.catch(() => undefined); // observed by settle(); never an unhandled rejection
    this.inflight = committed;
    this.record = record;
  }

  /** Waits for the chunk in flight; rethrows its failure. */
  private async settle(): Promise<void> {
    const p = this.inflight;
    this.inflight = undefined;
    if (p) await p;
  }

  /**
   * Runs one readwrite transaction. On a quota failure (thrown by put or by the commit) a
   * resumable stage keeps what it stored before (each chunk was verified into the hash state
   * with it), so freeing space and staging again resumes; any other stage is discarded.
   */
  private async transact(body: (tx: StageTx) => Promise<unknown>[], written: number): Promise<void> {
    const tx = this.db.transaction(['chunks', 'staging', 'files'], 'readwrite');
    try {
      const requests = body(tx);
      await Promise.all([...requests, tx.done]);
    } catch (e) {
      try {
        tx.abort();
      } catch {
        /* already finished or aborted */
      }
      await tx.done.catch(() => undefined);
      if (isQuotaError(e) || isQuotaError(tx.error)) {
        const keep = this.record.resumable;
        if (!keep) await this.discardQuietly();
        throw await quotaError(this.record.name, written, e, keep);
      }
      throw e;
    }
  }

  private async abortWith(signal: AbortSignal): Promise<never> {
    if (!this.record.resumable) await this.discardQuietly();
    throw new ShrinkrayError('aborted', `${this.record.name}: writing was cancelled`, { cause: signal.reason });
  }

  private async discardQuietly(): Promise<void> {
    try {
      await this.discard();
    } catch (e) {
      // The original failure matters more; the next start's garbage collection retries.
      if (!isShrinkrayError(e)) console.warn(`shrinkray store: could not discard '${this.record.name}'`, e);
    }
  }
}

/** A complete file read lazily: each read fetches only the chunks it overlaps. */
export function chunkedFileSource(db: StoreDb, file: FileRecord, name = file.name): ByteSource {
  const { fileId, size, chunkBytes: cb } = file;
  return {
    name,
    size,
    async read(offset, length) {
      checkRange(name, size, offset, length);
      if (length === 0) return new Uint8Array(0);
      const first = Math.floor(offset / cb);
      const last = Math.floor((offset + length - 1) / cb);
      const chunks = await db.getAll('chunks', chunkRange(fileId, first, last));
      if (chunks.length !== last - first + 1) {
        throw new ShrinkrayError(
          'bad_file',
          `${name}: the store holds ${chunks.length} of chunks ${first}..${last}; the stored file is damaged`,
        );
      }
      const start = offset - first * cb;
      if (chunks.length === 1) return new Uint8Array(chunks[0]!, start, length);
      const out = new Uint8Array(length);
      let filled = 0;
      for (let i = 0; i < chunks.length; i++) {
        const c = new Uint8Array(chunks[i]!);
        const piece = c.subarray(i === 0 ? start : 0, Math.min(c.byteLength, (i === 0 ? start : 0) + length - filled));
        out.set(piece, filled);
        filled += piece.byteLength;
      }
      return out;
    },
  };
}

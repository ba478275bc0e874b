import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from '../formats/byte-source.ts';
import { ChunkedFileWriter, chunkedFileSource } from './chunked-file.ts';
import { collectGarbage, type GcOptions } from './gc.ts';
import { chunkRange, openStoreDb, type StageRecord, type StoreDb } from './idb-schema.ts';
import { manifestFile, validateManifest, type ModelManifest } from './manifest.ts';
import { estimateStorage, isPersisted } from './quota.ts';
import { acquireSession, liveSessions, type StoreSession } from './session-lock.ts';
import { Sha256 } from './sha256.ts';
import type { GarbageReport, ModelStore, StageOptions, StagedFileInfo, StagedFileWriter, StoreUsage } from './store-types.ts';

export const DEFAULT_DB_NAME = 'shrinkray-models';
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

export interface OpenStoreOptions {
  /** Database name (tests use their own). */
  name?: string;
  /** Chunk size for new files: a positive multiple of 64 (default 8 MiB). */
  chunkBytes?: number;
  /** Collect orphans of earlier sessions on open (default true), with these limits. */
  collectGarbage?: boolean;
  gc?: Omit<GcOptions, 'live'>;
}

/** Opens the model store in IndexedDB; by default collects what earlier sessions left behind. */
export async function openModelStore(opts: OpenStoreOptions = {}): Promise<IdbModelStore> {
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes % 64 !== 0) {
    throw new ShrinkrayError('bad_argument', `model store: chunkBytes must be a positive multiple of 64, got ${chunkBytes}`);
  }
  if (typeof indexedDB === 'undefined') {
    throw new ShrinkrayError('runtime_error', 'model store: IndexedDB is not available here (private mode, or a context without storage)');
  }
  const name = opts.name ?? DEFAULT_DB_NAME;
  const sessionId = newFileId();
  // The session's Web Lock is held before any write, so a collection elsewhere sees it alive.
  const session = await acquireSession(name, sessionId);
  const store = new IdbModelStore(await openStoreDb(name), chunkBytes, name, sessionId, session);
  if (opts.collectGarbage ?? true) await store.collectGarbage(opts.gc);
  return store;
}

export class IdbModelStore implements ModelStore {
  private readonly live = new Set<string>(); // stage keys this session writes

  constructor(
    readonly db: StoreDb,
    readonly chunkBytes: number,
    readonly dbName = DEFAULT_DB_NAME,
    readonly sessionId = newFileId(),
    private readonly session?: StoreSession,
  ) {}

  async listModels(): Promise<ModelManifest[]> {
    const models = await this.db.getAll('models');
    return models.sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
  }

  getModel(modelId: string): Promise<ModelManifest | undefined> {
    return this.db.get('models', modelId);
  }

  async openModelFile(modelId: string, path: string): Promise<ByteSource> {
    const model = await this.getModel(modelId);
    if (!model) throw new ShrinkrayError('missing_file', `${path}: no model '${modelId}' in the store`);
    return this.openFile(manifestFile(model, path).fileId, path);
  }

  async openFile(fileId: string, name?: string): Promise<ByteSource> {
    const file = await this.db.get('files', fileId);
    if (!file) throw new ShrinkrayError('missing_file', `${name ?? fileId}: not in the model store (file id ${fileId})`);
    return chunkedFileSource(this.db, file, name);
  }

  async stageFile(stageKey: string, o: StageOptions): Promise<StagedFileWriter> {
    if (o.expectedSize !== undefined && (!Number.isSafeInteger(o.expectedSize) || o.expectedSize < 0)) {
      throw new ShrinkrayError('bad_argument', `${o.name}: expected size ${o.expectedSize} is not a byte count`);
    }
    const expectedSha256 = o.expectedSha256?.toLowerCase();
    let record = await this.db.get('staging', stageKey);
    // A stage continues only with the hash state of its stored bytes. One this hasher cannot
    // load (saved by the hand-written hasher before hash-wasm, or by an incompatible hash-wasm
    // build) restarts the file from byte 0 rather than hash on from a guess; a complete stage
    // needs no hasher (its digest is recorded).
    let hash = record ? await Sha256.resume(record.hash) : undefined;
    if (record?.owner !== undefined && record.owner !== this.sessionId && (await liveSessions(this.dbName))?.has(record.owner)) {
      // Two writers on one stage would interleave their chunks.
      throw new ShrinkrayError('bad_argument', `${o.name}: another tab or worker is writing it right now; wait for it, or close it`);
    }
    if (record && (!sameExpectations(record, o, expectedSha256) || (!hash && !record.complete))) {
      await this.discardStaged(stageKey);
      record = undefined;
      hash = undefined;
    }
    if (record && record.owner !== this.sessionId) {
      record = { ...record, owner: this.sessionId };
      await this.db.put('staging', record);
    }
    hash ??= await Sha256.create();
    if (!record) {
      const now = Date.now();
      record = {
        stageKey,
        fileId: newFileId(),
        name: o.name,
        chunkBytes: this.chunkBytes,
        chunksStored: 0,
        storedBytes: 0,
        hash: hash.state(),
        expectedSize: o.expectedSize,
        expectedSha256,
        resumable: o.resumable ?? false,
        complete: false,
        meta: { ...o.meta },
        createdAt: now,
        updatedAt: now,
        owner: this.sessionId,
      };
      await this.db.put('staging', record);
    }
    this.live.add(stageKey);
    return new ChunkedFileWriter(this.db, record, hash, (key) => this.live.delete(key));
  }

  async listStaged(): Promise<StagedFileInfo[]> {
    return (await this.db.getAll('staging')).map((s) => ({
      stageKey: s.stageKey,
      fileId: s.fileId,
      name: s.name,
      storedBytes: s.storedBytes,
      expectedSize: s.expectedSize,
      resumable: s.resumable,
      complete: s.complete,
      updatedAt: s.updatedAt,
    }));
  }

  async discardStaged(stageKey: string): Promise<void> {
    const tx = this.db.transaction(['staging', 'chunks', 'files', 'models'], 'readwrite');
    const s = await tx.objectStore('staging').get(stageKey);
    if (s) {
      // Never delete a file that a model already uses (a commit consumed this stage).
      const models = await tx.objectStore('models').getAll();
      const committed = models.some((m) => m.files.some((f) => f.fileId === s.fileId));
      await tx.objectStore('staging').delete(stageKey);
      if (!committed) {
        await tx.objectStore('chunks').delete(chunkRange(s.fileId));
        await tx.objectStore('files').delete(s.fileId);
      }
    }
    await tx.done;
    this.live.delete(stageKey);
  }

  async commitModel(manifest: ModelManifest): Promise<void> {
    validateManifest(manifest);
    const tx = this.db.transaction(['models', 'files', 'staging', 'chunks'], 'readwrite');
    const files = tx.objectStore('files');
    const staging = tx.objectStore('staging');
    const consumed: string[] = [];
    for (const f of manifest.files) {
      const rec = await files.get(f.fileId);
      const problem = !rec
        ? 'is not stored (or was never finished)'
        : rec.size !== f.size
          ? `has ${rec.size} bytes, the manifest says ${f.size}`
          : rec.sha256 !== f.sha256
            ? `has sha-256 ${rec.sha256}, the manifest says ${f.sha256}`
            : undefined;
      if (problem) {
        tx.abort();
        await tx.done.catch(() => undefined);
        throw new ShrinkrayError('missing_file', `commit of model '${manifest.id}': file '${f.path}' ${problem}`);
      }
      const stageKey = await staging.index('fileId').getKey(f.fileId);
      if (stageKey !== undefined) {
        await staging.delete(stageKey);
        consumed.push(stageKey);
      }
    }
    const models = tx.objectStore('models');
    const previous = await models.get(manifest.id);
    if (previous) {
      const others = (await models.getAll()).filter((m) => m.id !== manifest.id);
      const kept = new Set([...manifest.files, ...others.flatMap((m) => m.files)].map((f) => f.fileId));
      for (const f of previous.files) {
        if (kept.has(f.fileId)) continue;
        await files.delete(f.fileId);
        await tx.objectStore('chunks').delete(chunkRange(f.fileId));
      }
    }
    // Written last: the model becomes visible only with everything above.
    await models.put({ ...manifest, createdAt: manifest.createdAt ?? Date.now() });
    await tx.done;
    for (const key of consumed) this.live.delete(key);
  }

  async deleteModel(modelId: string): Promise<void> {
    const tx = this.db.transaction(['models', 'files', 'chunks'], 'readwrite');
    const models = tx.objectStore('models');
    const model = await models.get(modelId);
    if (model) {
      await models.delete(modelId);
      const used = new Set((await models.getAll()).flatMap((m) => m.files.map((f) => f.fileId)));
      for (const f of model.files) {
        if (used.has(f.fileId)) continue;
        await tx.objectStore('files').delete(f.fileId);
        await tx.objectStore('chunks').delete(chunkRange(f.fileId));
      }
    }
    await tx.done;
  }

  async usage(): Promise<StoreUsage> {
    const sizes = new Map<string, number>();
    for (const m of await this.db.getAll('models')) for (const f of m.files) sizes.set(f.fileId, f.size);
    let stagedBytes = 0;
    for (const s of await this.db.getAll('staging')) if (!sizes.has(s.fileId)) stagedBytes += s.storedBytes;
    const modelBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
    const estimate = await estimateStorage();
    return {
      modelBytes,
      stagedBytes,
      usage: estimate?.usage,
      quota: estimate?.quota,
      persisted: estimate ? await isPersisted() : undefined,
    };
  }

  async collectGarbage(opts: Omit<GcOptions, 'live' | 'sessions'> = {}): Promise<GarbageReport> {
    // Asked before the collection's transaction: awaiting anything else inside it would end it.
    const at = Date.now();
    const sessions = await liveSessions(this.dbName);
    return collectGarbage(this.db, { ...opts, live: this.live, sessions: sessions && { live: sessions, at } });
  }

  close(): void {
    this.db.close();
    this.session?.release();
  }
}

/** Whether a staged record may be resumed by a writer with these options. */
function sameExpectations(r: StageRecord, o: StageOptions, sha: string | undefined): boolean {
  // A completed stage records its actual hash, which a caller that gave none accepts.
  const shaMatches = r.expectedSha256 === sha || (r.complete && sha === undefined);
  if (r.name !== o.name || r.expectedSize !== o.expectedSize || !shaMatches) return false;
  return Object.entries(o.meta ?? {}).every(([k, v]) => r.meta[k] === v);
}

function newFileId(): string {
  return globalThis.crypto?.randomUUID?.() ?? `f${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
}

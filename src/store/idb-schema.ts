import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ModelManifest } from './manifest.ts';
import type { Sha256State } from './sha256.ts';

/**
 * The IndexedDB layout of the model store.
 * - chunks:  [fileId, index] -> ArrayBuffer of chunkBytes (the last one may be shorter)
 * - files:   fileId -> FileRecord, written when a file's last chunk is stored and checked
 * - staging: stageKey -> StageRecord, one per write in progress (download or compression)
 * - models:  modelId -> ModelManifest, written last in the commit transaction, so a model
 *            is visible exactly when all its files are complete
 */
export interface FileRecord {
  fileId: string;
  name: string;
  size: number;
  sha256: string;
  chunkBytes: number;
  chunkCount: number;
  complete: true;
}

export interface StageRecord {
  stageKey: string;
  fileId: string;
  name: string;
  chunkBytes: number; // a multiple of 64, so the hash state is saved on a block boundary
  chunksStored: number;
  storedBytes: number; // chunksStored * chunkBytes until complete
  hash: Sha256State; // sha-256 state after the stored chunks (see sha256.ts for older records)
  expectedSize?: number;
  expectedSha256?: string;
  resumable: boolean;
  complete: boolean;
  meta: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  /** The store session (session-lock.ts) writing it; absent in records from before sessions existed. */
  owner?: string;
}

export interface StoreSchema extends DBSchema {
  chunks: { key: [string, number]; value: ArrayBuffer };
  files: { key: string; value: FileRecord };
  staging: { key: string; value: StageRecord; indexes: { fileId: string } };
  models: { key: string; value: ModelManifest };
}

export type StoreDb = IDBPDatabase<StoreSchema>;

export const DB_VERSION = 1;

/** Opens (creating on first use) the store's database. */
export async function openStoreDb(name: string): Promise<StoreDb> {
  const db = await openDB<StoreSchema>(name, DB_VERSION, {
    upgrade(database) {
      database.createObjectStore('chunks');
      database.createObjectStore('files', { keyPath: 'fileId' });
      const staging = database.createObjectStore('staging', { keyPath: 'stageKey' });
      staging.createIndex('fileId', 'fileId', { unique: true });
      database.createObjectStore('models', { keyPath: 'id' });
    },
    // Another tab wants a newer schema: step aside rather than block it forever.
    blocking() {
      db.close();
    },
  });
  return db;
}

/** The key range of every chunk of one file. */
export function chunkRange(fileId: string, from = 0, to = Number.MAX_SAFE_INTEGER): IDBKeyRange {
  return IDBKeyRange.bound([fileId, from], [fileId, to]);
}

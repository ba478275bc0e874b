import type { ByteSource } from '../formats/byte-source.ts';
import type { ModelManifest } from './manifest.ts';

/**
 * The model store: files kept as fixed-size chunks, models made visible only by an atomic
 * commit of their manifest. IndexedDB implements it (idb-store.ts); callers see only this.
 */
export interface ModelStore {
  /** Manifests of every committed model, oldest first. */
  listModels(): Promise<ModelManifest[]>;
  /** The manifest of one committed model, or undefined when there is none. */
  getModel(modelId: string): Promise<ModelManifest | undefined>;
  /** One file of a committed model, by its path in the model folder, as a lazy ByteSource; 'missing_file' names what is absent. */
  openModelFile(modelId: string, path: string): Promise<ByteSource>;
  /** A completed file (committed or staged-and-finished) as a lazy ByteSource; 'missing_file' if absent. */
  openFile(fileId: string, name?: string): Promise<ByteSource>;
  /** Starts a staged write under `stageKey`, or resumes the one already staged there with the same expectations. */
  stageFile(stageKey: string, options: StageOptions): Promise<StagedFileWriter>;
  /** The staged (uncommitted) writes, for resume and for the cache view. */
  listStaged(): Promise<StagedFileInfo[]>;
  /** Deletes a staged write and its chunks; a no-op when absent. */
  discardStaged(stageKey: string): Promise<void>;
  /** Makes a model visible, all or nothing: every file must be finished; replaces a model with the same id. */
  commitModel(manifest: ModelManifest): Promise<void>;
  /** Deletes a model and the files no other model uses. */
  deleteModel(modelId: string): Promise<void>;
  /** Bytes held by committed models, staged writes, and the browser's estimate of usage and quota. */
  usage(): Promise<StoreUsage>;
  /** Deletes chunks and files nothing refers to, and staged writes that cannot be resumed. */
  collectGarbage(): Promise<GarbageReport>;
  /** Closes the database; the store is unusable afterwards. */
  close(): void;
}

export interface StageOptions {
  /** The file name, used in every error message about it (e.g. 'model.safetensors'). */
  name: string;
  /** Size the finished file must have, when known. */
  expectedSize?: number;
  /** Lowercase hex sha-256 the finished file must have, when known. */
  expectedSha256?: string;
  /** Whether a later session may resume it (downloads); others are collected as orphans at the next start. */
  resumable?: boolean;
  /** Free-form facts a resumer checks (the URL, the ETag). */
  meta?: Record<string, string>;
}

/** Writes one file in order; bytes reach the database in whole chunks. */
export interface StagedFileWriter {
  readonly fileId: string;
  readonly name: string;
  /** Bytes accepted so far (stored or buffered): the offset the next write continues from. */
  readonly position: number;
  readonly meta: Readonly<Record<string, string>>;
  /** Appends bytes; full chunks are stored as they fill. Rejects 'quota_exceeded' (after discarding the stage) or 'aborted'; a failure to store the last chunk may surface at the next write() or finish(). */
  write(bytes: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Stores the last chunk, checks size and sha-256 against the expectations ('bad_file', stage discarded), and marks the file complete. */
  finish(): Promise<StoredFileInfo>;
  /** Deletes everything staged for this file. */
  discard(): Promise<void>;
}

export interface StoredFileInfo {
  fileId: string;
  name: string;
  size: number;
  sha256: string;
}

export interface StagedFileInfo {
  stageKey: string;
  fileId: string;
  name: string;
  storedBytes: number;
  expectedSize?: number;
  resumable: boolean;
  complete: boolean;
  updatedAt: number;
}

export interface StoreUsage {
  modelBytes: number;
  stagedBytes: number;
  /** From navigator.storage.estimate(); undefined where the browser gives none (Node). */
  usage?: number;
  quota?: number;
  persisted?: boolean;
}

export interface GarbageReport {
  chunksDeleted: number;
  filesDeleted: number;
  stagesDeleted: number;
}

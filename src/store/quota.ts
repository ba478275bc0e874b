import { ShrinkrayError } from '../errors.ts';

/**
 * Storage quota, from navigator.storage. Everything here degrades to "unknown" where the
 * API is absent (Node, old browsers, some private modes): the real write then decides.
 */

export interface StorageFigures {
  usage: number;
  quota: number;
}

// The structural slice of StorageManager we use, so Node (no navigator.storage) type-checks.
interface StorageLike {
  estimate?: () => Promise<{ usage?: number; quota?: number }>;
  persist?: () => Promise<boolean>;
  persisted?: () => Promise<boolean>;
}

function storageManager(): StorageLike | undefined {
  const nav = (globalThis as { navigator?: { storage?: StorageLike } }).navigator;
  return nav?.storage;
}

/** The browser's usage and quota in bytes, or undefined where it cannot say. */
export async function estimateStorage(): Promise<StorageFigures | undefined> {
  const sm = storageManager();
  if (!sm?.estimate) return undefined;
  try {
    const { usage, quota } = await sm.estimate();
    if (typeof usage !== 'number' || typeof quota !== 'number') return undefined;
    return { usage, quota };
  } catch {
    return undefined; // estimate() can throw in opaque-origin frames; the write itself will still tell.
  }
}

/** Asks the browser not to evict our data; resolves to whether storage is persistent (false where unsupported). */
export async function requestPersistence(): Promise<boolean> {
  const sm = storageManager();
  try {
    if (sm?.persisted && (await sm.persisted())) return true;
    return sm?.persist ? await sm.persist() : false;
  } catch {
    return false; // a refusal is not an error: the store still works, it may only be evicted.
  }
}

/** Whether persistence was granted (false where unknown). */
export async function isPersisted(): Promise<boolean> {
  try {
    return (await storageManager()?.persisted?.()) ?? false;
  } catch {
    return false;
  }
}

export const MB = 1024 * 1024;

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

/** Bytes that may still be stored: the quota less usage and a small margin (the estimate is coarse, IndexedDB adds overhead per record). */
export function freeBytes(f: StorageFigures): number {
  const margin = Math.min(64 * MB, f.quota * 0.02);
  return Math.max(0, f.quota - f.usage - margin);
}

/**
 * Refuses early, before a download or a compression, when `needBytes` more would not fit:
 * throws 'quota_exceeded' with the figures.
 */
export async function checkQuota(needBytes: number, what: string, figures?: StorageFigures): Promise<void> {
  const f = figures ?? (await estimateStorage());
  if (!f) return;
  const free = freeBytes(f);
  if (needBytes > free) {
    throw new ShrinkrayError(
      'quota_exceeded',
      `not enough storage for ${what}: it needs ${mb(needBytes)} but only ${mb(free)} is free ` +
        `(${mb(f.usage)} used of a ${mb(f.quota)} quota); delete stored models or free disk space`,
    );
  }
}

/** Whether an error (a DOMException, or a transaction's error) means the storage quota was hit. */
export function isQuotaError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const name = (e as { name?: unknown }).name;
  if (name === 'QuotaExceededError') return true;
  // Some engines report quota failures as a generic abort whose message says so.
  const message = String((e as { message?: unknown }).message ?? '');
  return /quota/i.test(message) && name !== 'ShrinkrayError';
}

/** The 'quota_exceeded' error for a write that hit the quota mid-way; `kept`: the bytes stored so far stay, to resume. */
export async function quotaError(name: string, written: number, cause: unknown, kept = false): Promise<ShrinkrayError> {
  const f = await estimateStorage();
  const figures = f ? ` (${mb(f.usage)} used of a ${mb(f.quota)} quota)` : '';
  const staged = kept
    ? `the ${mb(written)} stored and checked so far are kept: free some space and start it again to resume`
    : 'what was staged for it was deleted';
  return new ShrinkrayError(
    'quota_exceeded',
    `storage is full while writing '${name}' after ${mb(written)}${figures}; ${staged}; stored models are intact`,
    { cause },
  );
}

import { openModelStore, type IdbModelStore } from '../store/idb-store.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { manifestBytes } from '../store/manifest.ts';
import type { StoredModelInfo, WorkerOptions } from './protocol.ts';
import { pageReport } from './tensor-places.ts';

/**
 * The model store as one worker holds it: opened at the first call that needs it, on the
 * database `configure()` named (tests use their own; the app uses the default).
 */
export class WorkerStore {
  private options: WorkerOptions = {};
  private opened: Promise<IdbModelStore> | undefined;

  async configure(options: WorkerOptions): Promise<void> {
    if (this.opened) (await this.opened).close();
    this.opened = undefined;
    this.options = { ...options };
  }

  get(): Promise<IdbModelStore> {
    this.opened ??= openModelStore({ name: this.options.storeName });
    this.opened.catch(() => {
      this.opened = undefined;
    });
    return this.opened;
  }
}

/** What the page sees of a manifest (file ids stay inside the worker). */
export function modelInfo(m: ModelManifest): StoredModelInfo {
  return {
    id: m.id,
    source: m.source,
    files: m.files.map((f) => ({ path: f.path, size: f.size })),
    bytes: manifestBytes(m),
    ...(m.recipe !== undefined ? { recipe: m.recipe } : {}),
    ...(m.report !== undefined ? { report: pageReport(m.report) } : {}),
    ...(m.createdAt !== undefined ? { createdAt: m.createdAt } : {}),
  };
}

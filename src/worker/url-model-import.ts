import { fetchWithRetry } from '../fetch/http-retry.ts';
import { urlModelId } from '../fetch/model-url.ts';
import type { ModelManifest } from '../store/manifest.ts';
import type { StorageFigures } from '../store/quota.ts';
import type { ModelStore } from '../store/store-types.ts';
import { checkExportedModel } from './model-checks.ts';
import { ModelWriter } from './model-writer.ts';
import type { ProgressCallback } from './protocol.ts';
import { bodyPieces } from './url-folder-import.ts';
import { urlModelPreflight } from './url-model-preflight.ts';

/**
 * A share link's compressed model folder into the store: checked first (url-model-preflight.ts:
 * config, report, files and sizes, quota), then each file fetched with plain GETs (retried on
 * 5xx and stalls; a static host may not answer ranges) and streamed into a staged file, the
 * model checked again from the store as an exported folder is, and committed as one model
 * whose source is the URL. A failure or a cancel leaves the store as it was.
 */
export async function importUrlModel(
  store: ModelStore,
  link: string,
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
  figures?: StorageFigures,
): Promise<ModelManifest> {
  onProgress?.({ stage: 'prepare', done: 0, total: 1, item: 'checking the files and their sizes' });
  const plan = await urlModelPreflight(link, { signal, figures });
  const started = performance.now();
  let done = 0;
  let item = '';
  const writer = new ModelWriter(store, urlModelId(plan.url), signal, (n) => {
    done += n;
    const seconds = (performance.now() - started) / 1000;
    const bytesPerSecond = seconds > 0 ? done / seconds : undefined;
    onProgress?.({ stage: 'download', done, total: Math.max(plan.totalBytes, done), item, ...(bytesPerSecond ? { bytesPerSecond } : {}) });
  });
  try {
    for (const f of plan.files) {
      item = f.path;
      const res = await fetchWithRetry(new URL(f.path, plan.url).href, {}, f.path, { signal });
      await writer.writeStream(f.path, bodyPieces(res));
    }
    const stored = new Map(writer.files.map((f) => [f.path, f]));
    await checkExportedModel(async (path) => {
      const f = stored.get(path);
      return f ? store.openFile(f.fileId, path) : undefined;
    });
    return await writer.commit({ source: { kind: 'url', url: plan.url }, recipe: plan.recipe, report: plan.report });
  } catch (e) {
    await writer.discard();
    throw e;
  }
}

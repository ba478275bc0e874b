import type { ModelFilePlan } from '../fetch/discover-files.ts';
import { prepareHubModel } from '../fetch/hub-model-files.ts';
import type { RetryOptions } from '../fetch/http-retry.ts';
import { hubFileUrl, type HubRef } from '../fetch/hub-url.ts';
import { downloadFile, type DownloadProgress } from '../fetch/ranged-download.ts';
import { hubModelId, type ModelManifest } from '../store/manifest.ts';
import { checkQuota, requestPersistence } from '../store/quota.ts';
import type { ModelStore } from '../store/store-types.ts';

/**
 * A hub model into the store, all or nothing: the fetch stage lists the files and checks the
 * safetensors headers remotely; here the quota is checked, each file is downloaded into a
 * staged write of the store (resuming what an earlier session staged under the same key),
 * and one manifest is committed.
 */
export interface DownloadModelOptions extends RetryOptions {
  store: ModelStore;
  repo: string;
  revision?: string;
  baseUrl?: string;
  /** Progress over all files: `file` is the one in flight, done/total count every file's bytes. */
  onProgress?: (p: DownloadProgress) => void;
}

export interface DownloadedModel {
  manifest: ModelManifest;
  plan: ModelFilePlan;
  /** Bytes this call transferred (less than the model's size when it resumed). */
  bytesFetched: number;
}

/** The store key of a downloaded file: stable across sessions, so a reload resumes it. */
export function hubStageKey(ref: HubRef, path: string): string {
  return `hub:${ref.baseUrl}|${ref.repo}@${ref.revision}/${path}`;
}

export async function downloadHubModel(o: DownloadModelOptions): Promise<DownloadedModel> {
  const { ref, plan, totalBytes: total } = await prepareHubModel(o.repo, o.revision, o.baseUrl, o);
  const staged = new Map((await o.store.listStaged()).map((s) => [s.stageKey, s.storedBytes]));
  const already = plan.files.reduce((sum, f) => sum + (staged.get(hubStageKey(ref, f.path)) ?? 0), 0);
  await checkQuota(total - already, `${ref.repo} (${plan.files.length} files)`);
  await requestPersistence();

  const started = performance.now();
  let fetched = 0;
  let doneBefore = 0; // bytes of the files already finished
  const manifest: ModelManifest = { id: hubModelId(ref.repo, ref.revision), source: { kind: 'hub', ...ref }, files: [] };
  // Files of an already stored version with the same sha-256 are kept, not fetched again.
  const previous = await o.store.getModel(manifest.id);
  for (const f of plan.files) {
    const same = previous?.files.find(
      (p) => p.path === f.path && f.sha256 !== undefined && p.sha256 === f.sha256 && p.size === (f.size ?? p.size),
    );
    if (same) {
      doneBefore += same.size;
      manifest.files.push(same);
      continue;
    }
    const info = await downloadFile({
      ...o,
      url: hubFileUrl(ref, f.path),
      name: f.path,
      stage: (request) => o.store.stageFile(hubStageKey(ref, f.path), request),
      expectedSize: f.size,
      expectedSha256: f.sha256,
      onBytes: (n) => {
        fetched += n;
      },
      onProgress:
        o.onProgress &&
        ((p) => {
          const seconds = (performance.now() - started) / 1000;
          const bytesPerSecond = seconds > 0 ? fetched / seconds : 0;
          const done = doneBefore + p.done;
          const etaSeconds = bytesPerSecond > 0 ? (total - done) / bytesPerSecond : done >= total ? 0 : Infinity;
          o.onProgress!({ stage: 'download', file: f.path, done, total, bytesPerSecond, etaSeconds });
        }),
    });
    doneBefore += info.size;
    manifest.files.push({ path: f.path, fileId: info.fileId, size: info.size, sha256: info.sha256 });
  }
  await o.store.commitModel(manifest);
  return { manifest, plan, bytesFetched: fetched };
}

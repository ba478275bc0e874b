import { ShrinkrayError } from '../errors.ts';
import { readSafetensors } from '../formats/safetensors.ts';
import { hubModelId, type ModelManifest } from '../store/manifest.ts';
import { checkQuota, requestPersistence } from '../store/quota.ts';
import type { ModelStore } from '../store/store-types.ts';
import { discoverModelFiles, type ModelFilePlan } from './discover-files.ts';
import { openHttpSource } from './http-byte-source.ts';
import type { RetryOptions } from './http-retry.ts';
import { hubFileUrl, hubRef, hubStageKey, type HubRef } from './hub-url.ts';
import { downloadFile, type DownloadProgress } from './ranged-download.ts';

/**
 * A hub model into the store, all or nothing: discover the files, read the safetensors
 * headers remotely (a bad header fails before gigabytes are fetched), check the quota,
 * download each file (resuming what is staged), then commit one manifest.
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

export async function downloadHubModel(o: DownloadModelOptions): Promise<DownloadedModel> {
  const ref = hubRef(o.repo, o.revision, o.baseUrl);
  const plan = await discoverModelFiles(ref, o);
  if (plan.format === 'safetensors') await checkRemoteSafetensors(ref, plan, o);

  const staged = new Map((await o.store.listStaged()).map((s) => [s.stageKey, s.storedBytes]));
  const total = plan.files.reduce((sum, f) => sum + (f.size ?? 0), 0);
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
    const same = previous?.files.find((p) => p.path === f.path && f.sha256 !== undefined && p.sha256 === f.sha256 && p.size === (f.size ?? p.size));
    if (same) {
      doneBefore += same.size;
      manifest.files.push(same);
      continue;
    }
    const info = await downloadFile({
      ...o,
      url: hubFileUrl(ref, f.path),
      name: f.path,
      stageKey: hubStageKey(ref, f.path),
      expectedSize: f.size,
      expectedSha256: f.sha256,
      onBytes: (n) => { fetched += n; },
      onProgress: o.onProgress && ((p) => {
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

/**
 * Reads each shard's header over Range requests: a corrupt header, or a tensor the index
 * places in a shard that lacks it, fails now with the file named.
 */
async function checkRemoteSafetensors(ref: HubRef, plan: ModelFilePlan, o: RetryOptions): Promise<void> {
  const tensorsByShard = new Map<string, Set<string>>();
  for (const path of plan.weights) {
    const remote = plan.files.find((f) => f.path === path);
    const source = await openHttpSource(hubFileUrl(ref, path), { ...o, name: path, size: remote?.size });
    const file = await readSafetensors(source);
    tensorsByShard.set(path, new Set(file.tensors.keys()));
  }
  if (!plan.index) return;
  for (const [tensor, shard] of Object.entries(plan.index.weightMap)) {
    if (!tensorsByShard.get(shard)?.has(tensor)) {
      throw new ShrinkrayError('bad_file', `${plan.index.path}: places tensor '${tensor}' in ${shard}, which does not hold it`);
    }
  }
}

import { ShrinkrayError } from '../errors.ts';
import { readSafetensors } from '../formats/safetensors.ts';
import { discoverModelFiles, type ModelFilePlan } from './discover-files.ts';
import { openHttpSource } from './http-byte-source.ts';
import type { RetryOptions } from './http-retry.ts';
import { hubFileUrl, hubRef, type HubRef } from './hub-url.ts';

/**
 * What a hub model download will fetch, checked before any weight byte moves: the file list
 * (with sizes and sha-256s) and every safetensors header read remotely over Range requests,
 * so a bad header, or a tensor the index places in a shard that lacks it, fails now with the
 * file named. The worker then checks the quota and downloads into the store.
 */
export interface HubModelFiles {
  ref: HubRef;
  plan: ModelFilePlan;
  /** Sum of the listed sizes (files of unknown size count 0). */
  totalBytes: number;
}

export async function prepareHubModel(repo: string, revision: string | undefined, baseUrl: string | undefined, o: RetryOptions = {}): Promise<HubModelFiles> {
  const ref = hubRef(repo, revision, baseUrl);
  const plan = await discoverModelFiles(ref, o);
  if (plan.format === 'safetensors') await checkRemoteSafetensors(ref, plan, o);
  return { ref, plan, totalBytes: plan.files.reduce((sum, f) => sum + (f.size ?? 0), 0) };
}

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

import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { mergeShards } from '../formats/safetensors-shards.ts';
import type { ModelConfig } from '../model/config.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import { checkTensorsFitConfig } from '../model/hf-model.ts';
import { discoverModelFiles, type ModelFilePlan } from './discover-files.ts';
import { openHttpSource } from './http-byte-source.ts';
import { fetchJsonObject } from './http-json.ts';
import type { RetryOptions } from './http-retry.ts';
import { hubFileUrl, hubRef, type HubRef } from './hub-url.ts';

/**
 * What a hub model download will fetch, checked before any weight byte moves: the file list
 * (with sizes and sha-256s), config.json parsed (an unsupported architecture or a size out
 * of bounds is refused here), and every safetensors header read remotely over Range
 * requests and matched against the config, so a bad header, a tensor the index places in a
 * shard that lacks it, or weights that do not fit the config fail now with the file named.
 * The worker then checks the quota and downloads into the store.
 */
export interface HubModelFiles {
  ref: HubRef;
  plan: ModelFilePlan;
  config: ModelConfig;
  /** Sum of the listed sizes (files of unknown size count 0). */
  totalBytes: number;
}

export async function prepareHubModel(
  repo: string,
  revision: string | undefined,
  baseUrl: string | undefined,
  o: RetryOptions = {},
): Promise<HubModelFiles> {
  const ref = hubRef(repo, revision, baseUrl);
  const plan = await discoverModelFiles(ref, o);
  const config = parseHfConfig(await fetchJsonObject(hubFileUrl(ref, MODEL_FILES.config), MODEL_FILES.config, o), MODEL_FILES.config);
  if (plan.format === 'safetensors') await checkRemoteSafetensors(ref, plan, config, o);
  return { ref, plan, config, totalBytes: plan.files.reduce((sum, f) => sum + (f.size ?? 0), 0) };
}

async function checkRemoteSafetensors(ref: HubRef, plan: ModelFilePlan, config: ModelConfig, o: RetryOptions): Promise<void> {
  const { tensors, sourceOf } = await mergeShards(
    plan.weights,
    (path) => openHttpSource(hubFileUrl(ref, path), { ...o, name: path, size: plan.files.find((f) => f.path === path)?.size }),
    plan.index && { name: plan.index.path, weightMap: plan.index.weightMap },
  );
  const where = plan.weights.length === 1 ? plan.weights[0]! : `${plan.index?.path ?? 'the'} shards`;
  checkTensorsFitConfig(config, { tensors, files: plan.weights, sourceOf, where }, MODEL_FILES.config);
}

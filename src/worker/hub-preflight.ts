import { isShrinkrayError } from '../errors.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import { parseJsonObject } from '../formats/json-file.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { discoverModelFiles } from '../fetch/discover-files.ts';
import { fetchWithRetry } from '../fetch/http-retry.ts';
import { hubAuthHeaders, hubFileUrl, hubRef } from '../fetch/hub-url.ts';
import { hubStageKey } from './hub-download.ts';
import { estimateStorage, freeBytes, type StorageFigures } from '../store/quota.ts';
import type { ModelStore } from '../store/store-types.ts';
import type { HubModelRequest, HubPreflight } from './protocol.ts';

/**
 * What a hub download would cost, before it starts: the file list and sizes (from the
 * hub's listing, or HEAD probes on a mirror without one), the bytes an earlier attempt
 * already staged, the quota left, and config.json checked (it is a few hundred bytes),
 * so an unsupported architecture is named before a single weight byte is fetched.
 */
export async function hubPreflight(
  store: ModelStore,
  source: HubModelRequest,
  o: { signal?: AbortSignal; figures?: StorageFigures } = {},
): Promise<HubPreflight> {
  const { signal } = o;
  const ref = hubRef(source.repo, source.revision, source.hubUrl);
  const headers = hubAuthHeaders(source.token);
  const plan = await discoverModelFiles(ref, { signal, headers });
  const staged = new Map((await store.listStaged()).map((s) => [s.stageKey, s.storedBytes]));
  const totalBytes = plan.files.reduce((sum, f) => sum + (f.size ?? 0), 0);
  const stagedBytes = plan.files.reduce((sum, f) => sum + (staged.get(hubStageKey(ref, f.path)) ?? 0), 0);
  const needBytes = Math.max(0, totalBytes - stagedBytes);
  const figures = o.figures ?? (await estimateStorage());
  const free = figures ? freeBytes(figures) : undefined;

  let architecture: string | undefined;
  let problem: string | undefined;
  const res = await fetchWithRetry(hubFileUrl(ref, MODEL_FILES.config), {}, MODEL_FILES.config, { signal, headers });
  try {
    const json = parseJsonObject(await res.text(), MODEL_FILES.config);
    const archs = json.architectures;
    if (Array.isArray(archs) && typeof archs[0] === 'string') architecture = archs[0];
    parseHfConfig(json, `${ref.repo}/${MODEL_FILES.config}`);
  } catch (e) {
    if (!isShrinkrayError(e)) throw e;
    problem = e.message;
  }
  if (!problem && plan.format === 'onnx') {
    problem = `${ref.repo} has only an ONNX export (${plan.weights.join(', ')}); Shrinkray compresses safetensors weights`;
  }
  return {
    repo: ref.repo,
    revision: ref.revision,
    hubUrl: ref.baseUrl,
    format: plan.format,
    files: plan.files.map((f) => ({ path: f.path, ...(f.size !== undefined ? { size: f.size } : {}) })),
    totalBytes,
    stagedBytes,
    needBytes,
    ...(free !== undefined ? { freeBytes: free } : {}),
    fits: free === undefined || needBytes <= free,
    ...(architecture !== undefined ? { architecture } : {}),
    ...(problem !== undefined ? { problem } : {}),
  };
}

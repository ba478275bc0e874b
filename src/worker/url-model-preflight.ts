import { isShrinkrayError, ShrinkrayError } from '../errors.ts';
import { fetchNamed, isHtml, probeFile } from '../fetch/file-probe.ts';
import { modelFolderUrl } from '../fetch/model-url.ts';
import { parseJsonObject } from '../formats/json-file.ts';
import { CARRIED_FILES, MODEL_FILES } from '../formats/model-folder-layout.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import { checkQuota, estimateStorage, freeBytes, type StorageFigures } from '../store/quota.ts';

/**
 * What a share link's model folder would cost, found before any weight byte moves: config.json
 * and shrinkray.json fetched (small JSON: the architecture checked with the config checks every
 * import uses, the recipe and the external data file read from the report), then every file
 * the model needs probed by HEAD for its presence and size, and the total checked against the
 * quota. Every refusal is a ShrinkrayError that names the folder URL and what is wrong.
 */
export interface UrlModelPlan {
  /** The folder, normalised (fetch/model-url.ts). */
  url: string;
  /** The files to fetch, in order; size undefined where the host did not say. */
  files: { path: string; size?: number }[];
  /** Bytes the store will take: known sizes, and shrinkray.json's bytesOut for a graph whose size the host did not give. */
  totalBytes: number;
  freeBytes?: number;
  architecture: string;
  recipe: string;
  report: Record<string, unknown>;
}

// Side files are a few KB (config) to a few MB (a large vocabulary's tokenizer.json).
const MAX_SMALL_JSON = 4 * 1024 * 1024;
const EXPECTED = 'a model folder Shrinkray compressed (config.json, tokenizer.json, onnx/model.onnx, shrinkray.json)';

interface SmallJson {
  json: Record<string, unknown>;
  bytes: number; // as stored: the decoded text's UTF-8 bytes
}

/** GETs a small JSON file of the folder; 'missing' when the host answers 404 or 410. */
async function smallJson(folder: string, path: string, signal?: AbortSignal): Promise<SmallJson | 'missing'> {
  const url = new URL(path, folder).href;
  const res = await fetchNamed(url, {}, path, signal);
  const refuse = (code: 'bad_file' | 'download_error', why: string) => {
    void res.body?.cancel().catch(() => undefined);
    return new ShrinkrayError(code, `${folder} is not ${EXPECTED}: ${path} ${why}`);
  };
  if (res.status === 404 || res.status === 410) {
    await res.body?.cancel().catch(() => undefined);
    return 'missing';
  }
  if (!res.ok) throw refuse('download_error', `answers HTTP ${res.status} at ${url}`);
  if (isHtml(res)) throw refuse('bad_file', `is an HTML page, not JSON (a web page at ${url})`);
  if (Number(res.headers.get('content-length') ?? 0) > MAX_SMALL_JSON) throw refuse('bad_file', `is over ${MAX_SMALL_JSON} bytes`);
  try {
    const text = await res.text();
    return { json: parseJsonObject(text, url), bytes: new TextEncoder().encode(text).byteLength };
  } catch (e) {
    throw new ShrinkrayError('bad_file', `${folder} is not ${EXPECTED}: ${isShrinkrayError(e) ? e.message : String(e)}`);
  }
}

/** The external data file the report (or, failing that, the config) names, as a folder path. */
function externalDataPath(url: string, report: Record<string, unknown>, config: Record<string, unknown>): string | undefined {
  const files = report.files as { externalData?: unknown } | undefined;
  if (typeof files?.externalData === 'string') {
    if (!/^onnx\/[\w.-]+$/.test(files.externalData))
      throw new ShrinkrayError(
        'bad_file',
        `${url}shrinkray.json: files.externalData ${JSON.stringify(files.externalData)} is not a file in onnx/`,
      );
    return files.externalData;
  }
  const tjs = config['transformers.js_config'] as { use_external_data_format?: unknown } | undefined;
  return tjs?.use_external_data_format ? 'onnx/model.onnx_data' : undefined;
}

export async function urlModelPreflight(link: string, o: { signal?: AbortSignal; figures?: StorageFigures } = {}): Promise<UrlModelPlan> {
  const { signal } = o;
  const url = modelFolderUrl(link);
  const configFile = await smallJson(url, MODEL_FILES.config, signal);
  if (configFile === 'missing') throw new ShrinkrayError('missing_file', `${url} is not ${EXPECTED}: it has no config.json (HTTP 404)`);
  const config = configFile.json;
  let architecture: string;
  try {
    architecture = parseHfConfig(config, MODEL_FILES.config).architecture;
  } catch (e) {
    if (!isShrinkrayError(e)) throw e;
    throw new ShrinkrayError(e.code, `${url}: ${e.message}`);
  }
  const reportFile = await smallJson(url, MODEL_FILES.report, signal);
  if (reportFile === 'missing') {
    const hf = await probeFile(new URL(MODEL_FILES.weights, url).href, MODEL_FILES.weights, signal);
    const what = hf.found
      ? 'an uncompressed Hugging Face folder (model.safetensors): compress it, then share the exported folder'
      : EXPECTED;
    throw new ShrinkrayError('missing_file', `${url} has no shrinkray.json; a share link opens ${what}`);
  }
  const report = reportFile.json;
  if (typeof report.recipe !== 'string') throw new ShrinkrayError('bad_file', `${url}shrinkray.json has no 'recipe' string`);

  const data = externalDataPath(url, report, config);
  const required = [MODEL_FILES.tokenizer, MODEL_FILES.onnxModel, ...(data ? [data] : [])];
  const optional = CARRIED_FILES.filter((p) => p !== MODEL_FILES.tokenizer);
  const probes = await Promise.all(
    [...required, ...optional].map(async (path) => ({ path, probe: await probeFile(new URL(path, url).href, path, signal) })),
  );
  const files: UrlModelPlan['files'] = [];
  for (const { path, probe } of probes) {
    // A single-page host answers a path it lacks with its index.html: an optional file it is not.
    const present = probe.found && !probe.html;
    if (!present && required.includes(path)) {
      const why = probe.found ? 'is an HTML page' : `is missing (HTTP ${probe.status})`;
      throw new ShrinkrayError(probe.found ? 'bad_file' : 'missing_file', `${url} is not ${EXPECTED}: ${path} ${why}`);
    }
    if (present) files.push({ path, ...(probe.size !== undefined ? { size: probe.size } : {}) });
  }
  files.unshift({ path: MODEL_FILES.config, size: configFile.bytes }, { path: MODEL_FILES.report, size: reportFile.bytes });

  // A graph whose size the host did not give counts as what the report says the graph holds.
  const graph = files.filter((f) => f.path.startsWith('onnx/'));
  const graphKnown = graph.reduce((s, f) => s + (f.size ?? 0), 0);
  const bytesOut = typeof report.bytesOut === 'number' ? report.bytesOut : 0;
  const graphBytes = graph.some((f) => f.size === undefined) ? Math.max(graphKnown, bytesOut) : graphKnown;
  const sideBytes = files.filter((f) => !f.path.startsWith('onnx/')).reduce((s, f) => s + (f.size ?? 0), 0);
  const totalBytes = graphBytes + sideBytes;

  const figures = o.figures ?? (await estimateStorage());
  await checkQuota(totalBytes, `the model at ${url}`, figures);
  return {
    url,
    files,
    totalBytes,
    ...(figures ? { freeBytes: freeBytes(figures) } : {}),
    architecture,
    recipe: report.recipe,
    report,
  };
}

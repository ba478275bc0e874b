import type { ShrinkrayReport } from '../compress/report.ts';
import { ShrinkrayError } from '../errors.ts';
import type { ByteSource, OpenModelFile } from '../formats/byte-source.ts';
import { CARRIED_FILES, MODEL_FILES } from '../formats/model-folder-layout.ts';
import { SITE_FORMAT, SITE_MODEL_DIR, SITE_SW_PLACEHOLDER, type SiteCacheList, type SiteManifest } from '../site/site-manifest.ts';
import { siteReadme } from './site-readme.ts';
import type { CompressedFolderSink } from './write-compressed-folder.ts';

/**
 * The job "export a compressed model as a demo site", written once for the CLI (a folder on
 * disk) and the page (a zip): the built site runtime (src/site/, built by vite.site.config.ts),
 * the model folder under model/ unchanged, site.json saying what it is, a README, and sw.js
 * with the list of files it keeps offline. The host gives the runtime's files, the model's
 * files and a sink; nothing here touches the disk or the store.
 */

/** One file of the built site runtime (index.html, sw.js, assets/…). */
export interface RuntimeFile {
  path: string;
  bytes: Uint8Array;
}

/** Where the site's files go: a folder on disk (CLI) or a zip (page); the sink compress writes its folders to. */
export type SiteSink = CompressedFolderSink;

export interface SiteModel {
  /** How messages name the model: its folder or store id. */
  where: string;
  /** The model's files, '/'-separated paths in its folder, with their sizes. */
  files: { path: string; size: number }[];
  open: OpenModelFile;
  /** The name the page shows (a repo id, a file name). */
  title: string;
}

export interface ExportSiteOptions {
  signal?: AbortSignal;
  onProgress?: (p: { stage: 'export'; done: number; total: number; item: string }) => void;
  /** When it was made (default: now); fixed by tests that compare two exports. */
  now?: Date;
  /** The runtime carries onnxruntime-web (the 'webgpu' build): the page may run on WebGPU. */
  webgpu?: boolean;
}

// Runtime files above this (onnxruntime-web's wasm) are kept when first used, not fetched at install.
const SHELL_FILE_MAX = 1024 * 1024;

const REQUIRED_MODEL = [MODEL_FILES.config, MODEL_FILES.tokenizer, MODEL_FILES.onnxModel];
const REQUIRED_RUNTIME = ['index.html', 'sw.js'];

/** A model file the site carries: the config, the tokenizer files, the report and the graph with its data. */
function carried(path: string): boolean {
  return path === MODEL_FILES.config || path === MODEL_FILES.report || CARRIED_FILES.includes(path) || /^onnx\/[^/]+$/.test(path);
}

export async function exportSite(
  model: SiteModel,
  runtime: readonly RuntimeFile[],
  sink: SiteSink,
  o: ExportSiteOptions = {},
): Promise<SiteManifest> {
  const files = model.files.filter((f) => carried(f.path));
  const missing = REQUIRED_MODEL.filter((p) => !files.some((f) => f.path === p));
  if (missing.length > 0) {
    throw new ShrinkrayError(
      'bad_argument',
      `${model.where} is not a compressed model: it has no ${missing.join(', ')} (export a model made by compress)`,
    );
  }
  const lacking = REQUIRED_RUNTIME.filter((p) => !runtime.some((f) => f.path === p));
  if (lacking.length > 0)
    throw new ShrinkrayError('missing_file', `the site runtime has no ${lacking.join(', ')} (is its build complete?)`);

  const report = await readReport(model);
  const site: SiteManifest = {
    format: SITE_FORMAT,
    title: model.title,
    recipe: report?.recipe ?? null,
    source: report ? publicSource(report.from) : null,
    figures: report ? { bytesIn: report.bytesIn, bytesOut: report.bytesOut, paramsIn: report.paramsIn, paramsOut: report.paramsOut } : null,
    modelFiles: files.map((f) => ({ path: f.path, size: f.size })),
    exported: (o.now ?? new Date()).toISOString(),
    engine: o.webgpu ? 'auto' : 'cpu',
  };
  const siteJson = new TextEncoder().encode(`${JSON.stringify(site, null, 2)}\n`);
  const readme = new TextEncoder().encode(siteReadme(site, report));
  const served = runtime.filter((f) => f.path !== 'sw.js');
  const shell = [...served.filter((f) => f.bytes.byteLength <= SHELL_FILE_MAX).map((f) => f.path), 'site.json', 'README.md'];
  const cacheList: SiteCacheList = {
    version: await digest([siteJson, ...runtime.map((f) => f.bytes)]),
    shell,
    lazy: [
      ...served.filter((f) => f.bytes.byteLength > SHELL_FILE_MAX).map((f) => f.path),
      ...files.map((f) => `${SITE_MODEL_DIR}${f.path}`),
    ],
    modelDir: SITE_MODEL_DIR,
  };

  const total = files.reduce((s, f) => s + f.size, 0) + runtime.reduce((s, f) => s + f.bytes.byteLength, 0);
  sink.begin?.(total + siteJson.byteLength + readme.byteLength);
  let done = 0;
  const step = (item: string, n: number) => {
    if (o.signal?.aborted) throw new ShrinkrayError('aborted', `exporting ${model.where} as a site was cancelled`);
    done += n;
    o.onProgress?.({ stage: 'export', done, total, item });
  };
  for (const f of runtime) {
    step(f.path, 0);
    await sink.write(f.path, f.path === 'sw.js' ? withCacheList(f.bytes, cacheList) : f.bytes);
    step(f.path, f.bytes.byteLength);
  }
  await sink.write('site.json', siteJson);
  await sink.write('README.md', readme);
  for (const f of files) {
    const src = await model.open(f.path);
    if (!src) throw new ShrinkrayError('missing_file', `${model.where}: ${f.path} is listed but cannot be read`);
    const path = `${SITE_MODEL_DIR}${f.path}`;
    step(path, 0);
    await sink.copy(
      path,
      counted(src, (n) => step(path, n)),
    );
  }
  return site;
}

/**
 * Where the model came from, as a published page may say it: a store id ('hub:owner/repo@main',
 * 'demo:…') as it is, a folder on the exporting machine by its last name only (the CLI's
 * reports hold the path, which is nobody's business on a public site).
 */
export function publicSource(from: string): string {
  if (!/^([/.~\\]|[A-Za-z]:[/\\])/.test(from)) return from;
  const parts = from.split(/[/\\]+/).filter((p) => p && p !== '.' && p !== '..');
  return parts.at(-1) ?? from;
}

/** `src` reporting each read's length: the sink copies in pieces, and progress follows them. */
function counted(src: ByteSource, onRead: (n: number) => void): ByteSource {
  return {
    name: src.name,
    size: src.size,
    read: async (offset, length) => {
      const bytes = await src.read(offset, length);
      onRead(length);
      return bytes;
    },
  };
}

async function readReport(model: SiteModel): Promise<ShrinkrayReport | null> {
  const src = await model.open(MODEL_FILES.report);
  if (!src) return null;
  try {
    const report = JSON.parse(new TextDecoder().decode(await src.read(0, src.size))) as ShrinkrayReport;
    return typeof report === 'object' && report !== null && typeof report.recipe === 'string' ? report : null;
  } catch {
    throw new ShrinkrayError('bad_file', `${model.where}: ${MODEL_FILES.report} is not valid JSON`);
  }
}

/** sw.js with its placeholder literal replaced by the cache list (a JSON object is a JavaScript expression). */
function withCacheList(sw: Uint8Array, list: SiteCacheList): Uint8Array {
  const text = new TextDecoder().decode(sw);
  const literal = new RegExp(`(["'\`])${SITE_SW_PLACEHOLDER}\\1`);
  if (!literal.test(text)) {
    throw new ShrinkrayError('missing_file', "the site runtime's sw.js has no cache-list placeholder (is its build complete?)");
  }
  return new TextEncoder().encode(text.replace(literal, () => JSON.stringify(list)));
}

/** A short content version: the first 16 hex digits of SHA-256 over the pieces. */
async function digest(pieces: Uint8Array[]): Promise<string> {
  const all = new Uint8Array(pieces.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of pieces) {
    all.set(p, at);
    at += p.byteLength;
  }
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return [...hash.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

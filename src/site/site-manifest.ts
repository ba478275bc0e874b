/**
 * site.json: what an exported demo site holds, written by the exporter (src/jobs/export-site.ts)
 * beside index.html and read by the site's page (src/site/main.ts) to say what it runs. The
 * model lives in `model/`, a compressed model folder in transformers.js layout, unchanged.
 */
export const SITE_FORMAT = 'shrinkray-site/1';

/** The folder, relative to the site's root, that holds the model. */
export const SITE_MODEL_DIR = 'model/';

export interface SiteManifest {
  format: typeof SITE_FORMAT;
  /** The model's name as the page shows it. */
  title: string;
  /** The recipe that made it (shrinkray.json's), or null for a folder without a report. */
  recipe: string | null;
  /** Where the compressed model came from: a hub repo, a file name, a folder. */
  source: string | null;
  /** The report's figures: weight bytes and parameters before and after. */
  figures: { bytesIn: number; bytesOut: number; paramsIn: number; paramsOut: number } | null;
  /** The model folder's files (paths inside model/) and their sizes. */
  modelFiles: { path: string; size: number }[];
  /** When it was exported (ISO 8601). */
  exported: string;
  /**
   * What the page asks createEngine for: 'cpu', the CPU engine (the runtime carries no
   * onnxruntime-web), or 'auto' (exported with --webgpu): onnxruntime-web on WebGPU where the
   * visitor has a real GPU, else the CPU engine.
   */
  engine: 'cpu' | 'auto';
}

/**
 * What the exporter writes into sw.js in place of SITE_SW_PLACEHOLDER: the cache's version (a
 * new export is a new service worker, so old caches are dropped) and the files to keep offline.
 */
export interface SiteCacheList {
  version: string;
  /** Fetched when the service worker installs: the page, its runtime, site.json. */
  shell: string[];
  /** Cached as the page first reads them (the model: fetched once, not twice). */
  lazy: string[];
  /** The model's folder (SITE_MODEL_DIR): a file there that `lazy` does not list is absent. */
  modelDir: string;
}

/** The string literal in the built sw.js (in whichever quotes the minifier chose) that the exporter replaces with the SiteCacheList's JSON. */
export const SITE_SW_PLACEHOLDER = '__SHRINKRAY_SITE_CACHE__';

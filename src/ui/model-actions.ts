import type { StoredModelInfo } from '../worker/client.ts';
import { runJob } from './jobs.ts';
import { compressor, modelName } from './state.ts';

/** Actions on one stored model that several screens offer. */

/** 'compressed:demo:stories260K:int4-g32' -> 'stories260K-int4-g32.zip'. */
export function zipName(info: StoredModelInfo): string {
  const name = modelName(info.id)
    .replace(/\s*\((demo|local)\)/g, '')
    .replace(/ · /g, '-');
  return `${name.replace(/[^A-Za-z0-9._+-]+/g, '_')}.zip`;
}

/** Zips the model in the worker and hands the Blob to the browser's download. */
export async function exportModel(info: StoredModelInfo): Promise<void> {
  const blob = await runJob('export', `Exporting ${modelName(info.id)}`, ({ signal, onProgress }) =>
    compressor.exportZip(info.id, { signal, onProgress }),
  );
  if (blob) download(blob, zipName(info));
}

/**
 * Zips the model as a demo site (a chat page, its runtime, a service worker and the model) that
 * any static host serves; the runtime comes from the app's own site-runtime/ folder.
 */
export async function exportDemoSite(info: StoredModelInfo): Promise<void> {
  const runtimeBase = new URL('site-runtime/', document.baseURI).href;
  const title = modelName(info.id).replace(/\s*\((demo|local)\)/g, '');
  const blob = await runJob('export', `Exporting ${modelName(info.id)} as a demo site`, ({ signal, onProgress }) =>
    compressor.exportSite(info.id, { runtimeBase, title }, { signal, onProgress }),
  );
  if (blob) download(blob, zipName(info).replace(/\.zip$/, '-site.zip'));
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  // The download has taken its reference by the next turn; keep the URL a while for slow starts.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

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
  if (!blob) return;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = zipName(info);
  a.click();
  // The download has taken its reference by the next turn; keep the URL a while for slow starts.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

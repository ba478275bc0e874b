import type { EngineInfo } from '../lib/engine-api.ts';
import type { SiteReadiness } from './isolate.ts';
import type { SiteManifest } from './site-manifest.ts';

/** The sentences the demo site's page shows: what the model is, what it runs on, how fast a reply came. */

export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
}

/** "Compressed in the browser by Shrinkray with int4-g32, from X: 0.54 MB, was 1.05 MB." */
export function describeSite(site: SiteManifest): string {
  const parts = ['Compressed on-device by Shrinkray'];
  if (site.recipe) parts.push(` with ${site.recipe}`);
  if (site.source) parts.push(`, from ${site.source}`);
  if (site.figures) parts.push(`: ${megabytes(site.figures.bytesOut)} of weights, was ${megabytes(site.figures.bytesIn)}`);
  return `${parts.join('')}.`;
}

/** "Runs on: Shrinkray's CPU engine (WASM SIMD, relaxed), 2 threads · works offline". */
export function describeEngine(info: EngineInfo, site: SiteReadiness): string {
  const engine =
    info.engine === 'cpu'
      ? `Shrinkray's CPU engine (WASM SIMD${info.simd ? `, ${info.simd}` : ''}), ${info.threads} thread${info.threads === 1 ? '' : 's'}`
      : `onnxruntime-web (${info.device})`;
  const offline = site.offline ? 'works offline' : `online only${site.note ? ` (${site.note})` : ''}`;
  return `Runs on: ${engine} · ${offline} · opened in ${(info.loadMs / 1000).toFixed(1)} s`;
}

/** A reply's token count and speed, under it. */
export function replyFigures(tokens: number, ms: number): HTMLElement {
  const span = document.createElement('span');
  span.className = 'figures';
  span.textContent = `${tokens} tokens in ${(ms / 1000).toFixed(1)} s (${ms > 0 ? ((1000 * tokens) / ms).toFixed(1) : '0'} tokens/s)`;
  return span;
}

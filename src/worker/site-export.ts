import { ShrinkrayError } from '../errors.ts';
import { exportSite, type RuntimeFile } from '../jobs/export-site.ts';
import type { ModelStore } from '../store/store-types.ts';
import type { ProgressCallback, SiteExportRequest } from './protocol.ts';
import { throwIfAborted } from './cancel.ts';
import { getManifest, storedFileOpener } from './stored-model.ts';
import { checkZipSize, zipSink } from './zip-sink.ts';

/**
 * A stored compressed model as a demo site in a zip (src/jobs/export-site.ts): the site runtime
 * is read from where the app serves it (`runtimeBase`, the build's site-runtime/ folder, listed
 * by its files.json; kept offline by the app's service worker), the model from the store.
 */
// The site's text files are deflated (the runtime's JavaScript shrinks to a third); weights and wasm are stored.
const DEFLATED = /\.(json|html|js|css|md|jinja)$/;

async function fetchRuntime(base: string, signal?: AbortSignal): Promise<RuntimeFile[]> {
  const get = async (path: string) => {
    const url = new URL(path, base).href;
    const res = await fetch(url, { signal }).catch((e: unknown) => {
      throw new ShrinkrayError(signal?.aborted ? 'aborted' : 'download_error', `the site runtime's ${path}: ${(e as Error).message}`);
    });
    if (!res.ok || (res.headers.get('content-type') ?? '').includes('text/html') !== path.endsWith('.html')) {
      throw new ShrinkrayError(
        'missing_file',
        `the site runtime's ${path} is missing at ${url} (HTTP ${res.status}); is the app's build complete?`,
      );
    }
    return new Uint8Array(await res.arrayBuffer());
  };
  const list = JSON.parse(new TextDecoder().decode(await get('files.json'))) as unknown;
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string' && /^[\w.-]+(\/[\w.-]+)*$/.test(p))) {
    throw new ShrinkrayError('bad_file', `the site runtime's files.json at ${base} is not a list of file paths`);
  }
  const files: RuntimeFile[] = [];
  for (const path of list as string[]) files.push({ path, bytes: await get(path) });
  return files;
}

export async function exportSiteZip(
  store: ModelStore,
  modelId: string,
  request: SiteExportRequest,
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
): Promise<Blob> {
  const manifest = await getManifest(store, modelId);
  checkZipSize(
    modelId,
    manifest.files.reduce((s, f) => s + f.size, 0),
  );
  const runtime = await fetchRuntime(request.runtimeBase, signal);
  const zip = zipSink({ deflate: (path) => DEFLATED.test(path), beforePiece: () => throwIfAborted(signal, `exporting ${modelId}`) });
  await exportSite(
    { where: `model '${modelId}'`, files: manifest.files, open: storedFileOpener(store, manifest), title: request.title },
    runtime,
    zip,
    { signal, onProgress },
  );
  return zip.finish();
}

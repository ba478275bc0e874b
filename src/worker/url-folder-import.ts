import { ShrinkrayError } from '../errors.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import type { ModelManifest } from '../store/manifest.ts';
import type { ModelStore } from '../store/store-types.ts';
import { checkHfModel } from './model-checks.ts';
import { ModelWriter } from './model-writer.ts';
import type { ProgressCallback } from './protocol.ts';

/**
 * A model folder served over HTTP by the app itself (the bundled demo under /models/), into
 * the store: each file streamed from its response body into a staged file, the whole model
 * checked from the store, then committed as one model. Plain GETs (no ranges): a static
 * host may not answer Range requests, and the demo is small.
 */
export async function importUrlFolder(
  store: ModelStore,
  baseUrl: string,
  files: string[],
  as: { id: string; name: string },
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
): Promise<ModelManifest> {
  const responses: { path: string; res: Response }[] = [];
  for (const path of files) {
    const url = new URL(path, baseUrl).href;
    const res = await fetch(url, { signal }).catch((e: unknown) => {
      throw new ShrinkrayError(signal?.aborted ? 'aborted' : 'download_error', `${path}: could not fetch ${url} (${(e as Error).message})`);
    });
    // A dev server answers unknown paths with index.html: that is a missing file too.
    const html = (res.headers.get('content-type') ?? '').includes('text/html');
    if (!res.ok || html) {
      await res.body?.cancel();
      if (path === MODEL_FILES.config || path.endsWith('.safetensors') || path === MODEL_FILES.tokenizer) {
        throw new ShrinkrayError(
          'missing_file',
          `${as.name}: ${url} is missing (HTTP ${res.status}${html ? ', an HTML page' : ''}); run \`npm run fixtures\` to generate the demo model`,
        );
      }
      continue; // optional side files
    }
    responses.push({ path, res });
  }
  const total = responses.reduce((s, r) => s + Number(r.res.headers.get('content-length') ?? 0), 0);
  let done = 0;
  const writer = new ModelWriter(store, as.id, signal, (n) => {
    done += n;
    onProgress?.({ stage: 'import', done, total: Math.max(total, done) });
  });
  try {
    for (const { path, res } of responses) await writer.writeStream(path, bodyPieces(res));
    const stored = new Map(writer.files.map((f) => [f.path, f]));
    await checkHfModel(async (path) => {
      const f = stored.get(path);
      return f ? store.openFile(f.fileId, path) : undefined;
    });
    return await writer.commit({ source: { kind: 'demo', name: as.name } });
  } catch (e) {
    await writer.discard();
    throw e;
  }
}

/** A response's body as the pieces it arrives in. */
export async function* bodyPieces(res: Response): AsyncGenerator<Uint8Array> {
  if (!res.body) return;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

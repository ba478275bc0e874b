import { ShrinkrayError } from '../errors.ts';
import { bytesSource, type ByteSource, type DisplayName, type OpenModelFile } from '../formats/byte-source.ts';
import type { LoadProgress } from './engine-api.ts';

/**
 * A model folder served over http(s), opened file by file as the loader asks: each file is
 * fetched whole with a plain GET (a static host may not answer Range requests; a compressed
 * model is small), once. A 404, or an HTML page where a file should be (a dev server or an SPA
 * host answers unknown paths with index.html), is a missing file: the loader then says which
 * URL a required file was missing from.
 */
export interface FolderOpener {
  open: OpenModelFile;
  display: DisplayName;
  /** How messages and engine.info name the model. */
  where: string;
}

/** The folder's URL with a trailing slash, so that files resolve inside it; 'bad_argument' for anything but http(s). */
export function folderUrl(source: string | URL): URL {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new ShrinkrayError('bad_argument', `createEngine: '${String(source)}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ShrinkrayError('bad_argument', `createEngine: ${url.href} is not an http(s) URL of a model folder`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

export function urlFolderOpener(source: string | URL, onProgress?: (p: LoadProgress) => void, signal?: AbortSignal): FolderOpener {
  const base = folderUrl(source);
  const display = (path: string) => new URL(path, base).href;
  const fetched = new Map<string, Promise<ByteSource | undefined>>();
  const progress = { done: 0, total: 0 };
  const fetchFile = async (path: string): Promise<ByteSource | undefined> => {
    const url = display(path);
    const res = await fetch(url, { signal }).catch((e: unknown) => {
      if (signal?.aborted) throw new ShrinkrayError('aborted', `loading ${url} was cancelled`);
      throw new ShrinkrayError(
        'download_error',
        `could not fetch ${url} (${(e as Error).message}); is the server up, and does it send CORS headers?`,
      );
    });
    const html = (res.headers.get('content-type') ?? '').includes('text/html');
    if (res.status === 404 || res.status === 410 || (res.ok && html)) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ShrinkrayError('download_error', `${url}: HTTP ${res.status} ${res.statusText}`.trim());
    }
    const length = Number(res.headers.get('content-length') ?? 0);
    progress.total += length;
    const bytes = await readBody(
      res,
      url,
      (n) => {
        progress.done += n;
        progress.total = Math.max(progress.total, progress.done);
        onProgress?.({ stage: 'download', ...progress });
      },
      signal,
    );
    return bytesSource(bytes, url);
  };
  const open: OpenModelFile = (path) => {
    let p = fetched.get(path);
    if (!p) {
      p = fetchFile(path);
      fetched.set(path, p);
    }
    return p;
  };
  return { open, display, where: base.href };
}

async function readBody(res: Response, url: string, onBytes: (n: number) => void, signal?: AbortSignal): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let size = 0;
  try {
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        pieces.push(value);
        size += value.byteLength;
        onBytes(value.byteLength);
      }
    }
  } catch (e) {
    if (signal?.aborted) throw new ShrinkrayError('aborted', `loading ${url} was cancelled`);
    throw new ShrinkrayError('download_error', `${url}: the download broke off after ${size} bytes (${(e as Error).message})`);
  }
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

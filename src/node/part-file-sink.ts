import { open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { ShrinkrayError } from '../errors.ts';
import type { DownloadSink, StageRequest } from '../fetch/ranged-download.ts';
import { fsError } from './fs-errors.ts';

/**
 * A download's staged file on disk for the CLI (src/fetch/ranged-download.ts writes into it):
 * PATH holds the bytes so far and PATH.json the URL, ETag and size they belong to, so a later
 * run with the same URL continues where the last one stopped, and a changed file (another ETag)
 * starts over. The store's staged writes do the same job in the page.
 */
export interface PartFile {
  readonly path: string;
  readonly size: number;
}

export async function stagePartFile(path: string, request: StageRequest): Promise<DownloadSink<PartFile>> {
  const metaPath = `${path}.json`;
  const facts = JSON.stringify({ url: request.meta.url, etag: request.meta.etag, size: request.expectedSize ?? null });
  const before = await readFile(metaPath, 'utf8').catch(() => null);
  // Without an ETag there is no telling whether the bytes on disk are still the file's.
  const resume = before === facts && request.meta.etag !== '';
  let handle: FileHandle;
  try {
    handle = await open(path, resume ? 'a' : 'w');
    if (!resume) await writeFile(metaPath, facts);
  } catch (e) {
    throw fsError(e, path, 'the download');
  }
  let position = resume ? (await handle.stat()).size : 0;
  if (request.expectedSize !== undefined && position > request.expectedSize) {
    await handle.truncate(0);
    position = 0;
  }
  let closed = false;
  const close = async () => {
    if (!closed) await handle.close();
    closed = true;
  };
  return {
    get position() {
      return position;
    },
    async write(bytes) {
      let done = 0;
      while (done < bytes.byteLength) done += (await handle.write(bytes, done, bytes.byteLength - done)).bytesWritten;
      position += bytes.byteLength;
    },
    async finish() {
      await close();
      if (request.expectedSize !== undefined && position !== request.expectedSize) {
        throw new ShrinkrayError('bad_file', `${request.name}: downloaded ${position} bytes, but the server said ${request.expectedSize}`);
      }
      return { path, size: position };
    },
    async discard() {
      await close();
      await rm(path, { force: true });
      await rm(metaPath, { force: true });
    },
  };
}

/** Removes a finished or abandoned part file and its facts. */
export async function removePartFile(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.json`, { force: true });
}

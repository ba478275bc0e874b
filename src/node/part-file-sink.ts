import { constants } from 'node:fs';
import { lstat, open, rm, type FileHandle } from 'node:fs/promises';
import { ShrinkrayError } from '../errors.ts';
import type { DownloadSink, StageRequest } from '../fetch/ranged-download.ts';
import { fsError, notAFile } from './fs-errors.ts';

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

// Never through a symlink planted at the part file's name, never waiting on a pipe there (absent flags: 0, Windows).
const NO_FOLLOW = (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
const WHAT = "the download's part file";

/**
 * Opens PATH only as a regular file of our own: a symlink (which would write the model over
 * whatever it points at), a pipe, a device or a folder at the part file's name is refused,
 * naming it; O_NOFOLLOW closes the gap between the check and the open.
 */
async function openPlain(path: string, flags: number): Promise<FileHandle> {
  const refuse = (kind: string) =>
    new ShrinkrayError('bad_argument', `${WHAT} ${path} is ${kind}, not a file this download wrote; remove it and run again`);
  const before = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw fsError(e, path, WHAT);
  });
  if (before?.isSymbolicLink()) throw refuse('a symbolic link');
  const kind = before && notAFile(before);
  if (kind) throw refuse(kind);
  const handle = await open(path, flags | NO_FOLLOW, 0o644).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ELOOP' ? refuse('a symbolic link') : fsError(e, path, WHAT);
  });
  const after = notAFile(await handle.stat());
  if (after) {
    await handle.close();
    throw refuse(after);
  }
  return handle;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_APPEND } = constants;

async function readFacts(path: string): Promise<string | null> {
  const exists = await lstat(path).then(
    () => true,
    () => false,
  );
  if (!exists) return null;
  const handle = await openPlain(path, O_RDONLY);
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** The part file as a download's sink, plus `release`: its handle closed after a failed download (the bytes stay, to resume). */
export async function stagePartFile(path: string, request: StageRequest): Promise<DownloadSink<PartFile> & { release(): Promise<void> }> {
  const metaPath = `${path}.json`;
  const facts = JSON.stringify({ url: request.meta.url, etag: request.meta.etag, size: request.expectedSize ?? null });
  const before = await readFacts(metaPath);
  // Without an ETag there is no telling whether the bytes on disk are still the file's.
  const resume = before === facts && request.meta.etag !== '';
  const handle = await openPlain(path, O_WRONLY | O_CREAT | (resume ? O_APPEND : O_TRUNC));
  if (!resume) {
    const meta = await openPlain(metaPath, O_WRONLY | O_CREAT | O_TRUNC).catch(async (e: unknown) => {
      // Bytes without their facts could never be resumed: the (empty) part file goes too.
      await handle.close();
      await rm(path, { force: true });
      throw e;
    });
    try {
      await meta.writeFile(facts);
    } catch (e) {
      throw fsError(e, metaPath, WHAT);
    } finally {
      await meta.close();
    }
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
      try {
        while (done < bytes.byteLength) done += (await handle.write(bytes, done, bytes.byteLength - done)).bytesWritten;
      } catch (e) {
        // A full disk or an I/O error is final (quota_exceeded, ...): the downloader retries only the network.
        throw fsError(e, path, WHAT);
      }
      position += bytes.byteLength;
    },
    async finish() {
      await close();
      if (request.expectedSize !== undefined && position !== request.expectedSize) {
        throw new ShrinkrayError('bad_file', `${request.name}: downloaded ${position} bytes, but the server said ${request.expectedSize}`);
      }
      return { path, size: position };
    },
    release: close,
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

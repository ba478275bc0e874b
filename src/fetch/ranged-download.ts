import { ShrinkrayError, isShrinkrayError } from '../errors.ts';
import { abortedError, backoffDelay, describe, fetchWithRetry, sleep, type RetryOptions } from './http-retry.ts';
import { isStallError } from './stall-watch.ts';

/**
 * Downloads one file into a staged, resumable write (the model store's, handed in by the
 * worker) with Range requests, resuming from whatever is already staged: bytes stored in an
 * earlier session are never fetched again, and after a cut connection the next request
 * starts where the last one stopped.
 */

/** What a download needs of a staged file; the store's StagedFileWriter is one. */
export interface DownloadSink<Done> {
  /** Bytes already stored: where the next write continues. */
  readonly position: number;
  write(bytes: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Completes the file, checking size and sha-256 against what `stage` was told. */
  finish(): Promise<Done>;
  discard(): Promise<void>;
}

/** What the download tells the sink's owner when it starts (or restarts) the staged file. */
export interface StageRequest {
  name: string;
  expectedSize?: number;
  expectedSha256?: string;
  resumable: true;
  meta: { url: string; etag: string };
}
export interface DownloadProgress {
  stage: 'download';
  file: string;
  done: number; // bytes
  total: number; // bytes; 0 while unknown
  bytesPerSecond: number; // over this call's own transfers
  etaSeconds: number; // Infinity while unknown
}

export interface DownloadFileOptions<Done> extends RetryOptions {
  url: string;
  /** The file's name in errors and progress, e.g. 'model-00001-of-00002.safetensors'. */
  name: string;
  /** Opens the staged file: the one already staged for this download (resumed), or a new one. */
  stage: (request: StageRequest) => Promise<DownloadSink<Done>>;
  expectedSize?: number;
  expectedSha256?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Reports only the bytes this call fetched (for overall progress over several files). */
  onBytes?: (n: number) => void;
  /** Bytes asked for per request (default: a sixteenth of the file, within 256 KiB..64 MiB). */
  rangeBytes?: number;
}

const KiB = 1024;

/**
 * Why bounded ranges: when a connection is cut, a browser drops whatever it had received
 * but not yet handed to the page (several MB on a fast link), so one open-ended request
 * could lose far more than its share. A range bounds that loss to one range, about 6% of
 * the file, at a cost of some 16 requests per file.
 */
export function defaultRangeBytes(size: number): number {
  return Math.min(64 * KiB * KiB, Math.max(256 * KiB, Math.ceil(size / 16)));
}

const PROGRESS_INTERVAL_MS = 100;

export async function downloadFile<Done>(o: DownloadFileOptions<Done>): Promise<Done> {
  const { name, url, signal } = o;
  // HEAD first: the ETag tells whether staged bytes still belong to the same file, and the
  // size is checked against the listing before any body is read.
  const head = await fetchWithRetry(url, { method: 'HEAD' }, name, o);
  const etag = head.headers.get('ETag') ?? '';
  // Content-Length is the file's size only for LFS blobs (ETag = sha-256): the hub may
  // gzip small text files, and browsers cannot ask it not to (Accept-Encoding is theirs).
  const lfs = o.expectedSha256 !== undefined || /^(W\/)?"?[0-9a-f]{64}"?$/.test(etag);
  const headSize = head.ok && lfs ? numberHeader(head, 'Content-Length') : undefined;
  if (o.expectedSize !== undefined && headSize !== undefined && headSize !== o.expectedSize) {
    throw new ShrinkrayError('bad_file', `${name}: size mismatch: the listing says ${o.expectedSize} bytes but ${url} serves ${headSize}`);
  }
  const expectedSize = o.expectedSize ?? headSize;
  const rangeBytes = o.rangeBytes ?? defaultRangeBytes(expectedSize ?? 0);
  const stage: StageRequest = { name, expectedSize, expectedSha256: o.expectedSha256, resumable: true, meta: { url, etag } };
  let writer = await o.stage(stage);

  const started = performance.now();
  let fetched = 0;
  let lastReport = 0;
  const report = (force = false) => {
    const now = performance.now();
    if (!o.onProgress || (!force && now - lastReport < PROGRESS_INTERVAL_MS)) return;
    lastReport = now;
    const seconds = (now - started) / 1000;
    const bytesPerSecond = seconds > 0 ? fetched / seconds : 0;
    const total = expectedSize ?? 0;
    const left = total - writer.position;
    const etaSeconds = total > 0 && bytesPerSecond > 0 ? left / bytesPerSecond : total > 0 && left === 0 ? 0 : Infinity;
    o.onProgress({ stage: 'download', file: name, done: writer.position, total, bytesPerSecond, etaSeconds });
  };
  report(true);

  let failures = 0;
  const retries = o.retries ?? 5;
  for (;;) {
    if (expectedSize !== undefined && writer.position === expectedSize) break;
    const from = writer.position;
    const headers: Record<string, string> = {};
    if (expectedSize !== undefined) {
      headers.Range = `bytes=${from}-${Math.min(from + rangeBytes, expectedSize) - 1}`;
    } else if (from > 0) {
      headers.Range = `bytes=${from}-`;
    }
    if (from > 0 && etag) headers['If-Range'] = etag;
    const res = await fetchWithRetry(url, { headers }, name, o);
    if (res.status === 416) {
      // Nothing left to send: complete if the stored size is the file's size.
      const total = /\/(\d+)$/.exec(res.headers.get('Content-Range') ?? '')?.[1];
      if (total !== undefined && Number(total) === from) break;
      throw new ShrinkrayError(
        'bad_file',
        `${name}: ${url} refused bytes from ${from} (Content-Range ${res.headers.get('Content-Range')})`,
      );
    }
    let skip = 0;
    if (from > 0 && res.status === 200) {
      // The server sent the whole file: either it ignores Range, or the file changed.
      const changed = (res.headers.get('ETag') ?? '') !== etag;
      if (changed) {
        await writer.discard();
        writer = await o.stage(stage);
      } else skip = from;
    } else if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get('Content-Range') ?? '')?.[1];
      if (start === undefined || Number(start) !== from) {
        throw new ShrinkrayError(
          'download_error',
          `${name}: asked ${url} for bytes from ${from}, got Content-Range ${res.headers.get('Content-Range')}`,
        );
      }
    }
    const before = writer.position;
    try {
      await pump(
        res,
        writer,
        skip,
        (n) => {
          fetched += n;
          o.onBytes?.(n);
          report();
        },
        signal,
      );
    } catch (e) {
      if (signal?.aborted) throw abortedError(name, signal);
      if (isShrinkrayError(e)) throw e; // store errors (quota, bad size) are final
      // A stalled body is a failure even if it dripped some bytes: a drip must not reset the count.
      const progressed = writer.position > before && !isStallError(e);
      if (!progressed && ++failures > retries) {
        throw new ShrinkrayError(
          'download_error',
          `${name}: the connection to ${url} kept failing at byte ${writer.position}: ${describe(e)}`,
          { cause: e },
        );
      }
      if (progressed) failures = 0; // progress: the connection is flaky, not dead
      await sleep(backoffDelay(failures, o), name, signal);
      continue;
    }
    if (expectedSize === undefined) break; // no size to reach: the body's end is the file's end
    if (writer.position > before) failures = 0;
    else if (++failures > retries) {
      // Bodies that end without a byte and without an error: the server has nothing more to give.
      throw new ShrinkrayError('download_error', `${name}: ${url} keeps ending the body at byte ${writer.position} of ${expectedSize}`);
    }
  }
  report(true);
  return writer.finish();
}

/** Streams a response body into the writer, dropping the first `skip` bytes. */
async function pump(
  res: Response,
  writer: DownloadSink<unknown>,
  skip: number,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onBytes(value.byteLength);
      let piece = value;
      if (skip > 0) {
        const drop = Math.min(skip, piece.byteLength);
        skip -= drop;
        piece = piece.subarray(drop);
      }
      if (piece.byteLength > 0) await writer.write(piece, signal);
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined); // free the connection before retrying or giving up
    throw e;
  }
}

function numberHeader(res: Response, header: string): number | undefined {
  const v = res.headers.get(header);
  return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
}

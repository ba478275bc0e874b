import { ShrinkrayError } from '../errors.ts';
import { checkRange, type ByteSource } from '../formats/byte-source.ts';
import { abortedError, backoffDelay, describe, fetchWithRetry, sleep, type RetryOptions } from './http-retry.ts';
import { isStallError } from './stall-watch.ts';

/**
 * A remote file as a ByteSource: each read is one Range request (more when a connection is cut:
 * the rest is asked for again), so a safetensors or GGUF header (or one tensor) can be read
 * without downloading the file.
 */
export interface HttpSourceOptions extends RetryOptions {
  /** The name used in errors, e.g. 'model.safetensors'. */
  name: string;
  /** The size, when the listing gave it; otherwise a HEAD request finds it. */
  size?: number;
  /** The ETag every read must match (found by HEAD when absent): a file changed mid-read is 'bad_file'. */
  etag?: string;
}

// A single read larger than this is a caller bug (a whole multi-GB file), not a tensor.
const MAX_READ_BYTES = 2 ** 31 - 1;

export async function openHttpSource(url: string, o: HttpSourceOptions): Promise<ByteSource> {
  const { name } = o;
  let size = o.size;
  let etag = o.etag;
  if (size === undefined || etag === undefined) {
    const head = await fetchWithRetry(url, { method: 'HEAD' }, name, o);
    const length = head.headers.get('Content-Length');
    if (size === undefined) {
      if (length === null || !/^\d+$/.test(length)) {
        throw new ShrinkrayError('download_error', `${name}: ${url} gives no Content-Length, so it cannot be read in ranges`);
      }
      size = Number(length);
    }
    etag ??= head.headers.get('ETag') ?? undefined;
  }
  const total = size;
  return {
    name,
    size: total,
    async read(offset, length) {
      checkRange(name, total, offset, length);
      if (length === 0) return new Uint8Array(0);
      if (length > MAX_READ_BYTES) {
        throw new ShrinkrayError('bad_argument', `${name}: one read of ${length} bytes is too large; read tensors one at a time`);
      }
      // A body cut short is asked again from the first byte it lacks, as the downloader does.
      const out = new Uint8Array(length);
      let got = 0;
      let failures = 0;
      while (got < length) {
        const from = offset + got;
        const res = await fetchWithRetry(url, { headers: { Range: `bytes=${from}-${offset + length - 1}` } }, name, o);
        const tag = res.headers.get('ETag');
        if (etag && tag && tag !== etag) {
          await res.body?.cancel();
          throw new ShrinkrayError('bad_file', `${name}: the file at ${url} changed while being read (ETag ${etag} became ${tag})`);
        }
        if (res.status === 200) {
          // The server ignores Range. Only tolerable for a small file; never pull gigabytes for a header.
          if (total > 64 * 1024 * 1024) {
            await res.body?.cancel();
            throw new ShrinkrayError(
              'download_error',
              `${name}: ${url} does not support Range requests, needed to read a ${total}-byte file in parts`,
            );
          }
          const all = new Uint8Array(await res.arrayBuffer());
          out.set(all.subarray(from, offset + length), got);
          return out;
        }
        if (res.status !== 206) {
          await res.body?.cancel();
          throw new ShrinkrayError('download_error', `${name}: HTTP ${res.status} for bytes ${from}..${offset + length} of ${url}`);
        }
        const before = got;
        try {
          got = await readBody(res, out, got);
        } catch (e) {
          got = Math.min(got + (e as PartialBody).received, length);
          if (o.signal?.aborted) throw abortedError(name, o.signal);
          const progressed = got > before && !isStallError(e); // a drip is no progress
          if (!progressed && ++failures > (o.retries ?? 5)) {
            throw new ShrinkrayError('download_error', `${name}: the connection to ${url} kept failing at byte ${from}: ${describe(e)}`, {
              cause: e,
            });
          }
          if (progressed) failures = 0;
          await sleep(backoffDelay(failures, o), name, o.signal);
          continue;
        }
        if (got < length) {
          throw new ShrinkrayError(
            'bad_file',
            `${name}: asked ${url} for ${length} bytes at ${offset}, got ${got} (the file may be truncated)`,
          );
        }
      }
      return out;
    },
  };
}

/** A body read that failed part way: how many bytes it had placed. */
type PartialBody = Error & { received: number };

/** Copies a 206 body into `out` from `at`; returns where it ended. Bytes past `out` mean a bad server. */
async function readBody(res: Response, out: Uint8Array, at: number): Promise<number> {
  if (!res.body) return at;
  const reader = res.body.getReader();
  let pos = at;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return pos;
      if (pos + value.byteLength > out.byteLength) {
        await reader.cancel();
        throw new ShrinkrayError('bad_file', `a range response was longer than the ${out.byteLength - at} bytes asked for`);
      }
      out.set(value, pos);
      pos += value.byteLength;
    }
  } catch (e) {
    if (e instanceof ShrinkrayError) throw e;
    await reader.cancel().catch(() => undefined);
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { received: pos - at });
  }
}

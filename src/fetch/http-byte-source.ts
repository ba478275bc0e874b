import { ShrinkrayError } from '../errors.ts';
import { checkRange, type ByteSource } from '../formats/byte-source.ts';
import { fetchWithRetry, type RetryOptions } from './http-retry.ts';

/**
 * A remote file as a ByteSource: each read is one Range request, so a safetensors header
 * (or one tensor) can be read without downloading the file.
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
      const res = await fetchWithRetry(url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } }, name, o);
      const got = res.headers.get('ETag');
      if (etag && got && got !== etag) {
        await res.body?.cancel();
        throw new ShrinkrayError('bad_file', `${name}: the file at ${url} changed while being read (ETag ${etag} became ${got})`);
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
        return all.subarray(offset, offset + length);
      }
      if (res.status !== 206) {
        await res.body?.cancel();
        throw new ShrinkrayError('download_error', `${name}: HTTP ${res.status} for bytes ${offset}..${offset + length} of ${url}`);
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (bytes.byteLength !== length) {
        throw new ShrinkrayError(
          'bad_file',
          `${name}: asked ${url} for ${length} bytes at ${offset}, got ${bytes.byteLength} (the file may be truncated)`,
        );
      }
      return bytes;
    },
  };
}

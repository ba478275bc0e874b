import { ShrinkrayError } from '../errors.ts';
import { MAX_JSON_BYTES, parseJsonObject } from '../formats/json-file.ts';
import { fetchWithRetry, type RetryOptions } from './http-retry.ts';

/**
 * A small JSON side file from the hub (config.json, the shard index), read with the same
 * cap as a local one: the body is streamed and dropped past MAX_JSON_BYTES, so a hostile
 * server cannot make the tab hold a gigabyte "config". 'bad_file' names the file otherwise.
 */
export async function fetchJsonObject(url: string, name: string, o: RetryOptions = {}): Promise<Record<string, unknown>> {
  const res = await fetchWithRetry(url, {}, name, o);
  const declared = res.headers.get('Content-Length');
  if (declared !== null && Number(declared) > MAX_JSON_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw new ShrinkrayError(
      'bad_file',
      `${name}: ${declared} bytes at ${url} is too large for a JSON side file (limit ${MAX_JSON_BYTES})`,
    );
  }
  const pieces: Uint8Array[] = [];
  let bytes = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > MAX_JSON_BYTES) {
        await reader.cancel().catch(() => undefined);
        throw new ShrinkrayError('bad_file', `${name}: more than ${MAX_JSON_BYTES} bytes at ${url}, too large for a JSON side file`);
      }
      pieces.push(value);
    }
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const p of pieces) {
    all.set(p, at);
    at += p.byteLength;
  }
  return parseJsonObject(new TextDecoder().decode(all), name);
}

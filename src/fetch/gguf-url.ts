import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from '../formats/byte-source.ts';
import { openHttpSource } from './http-byte-source.ts';
import { printable } from '../formats/printable.ts';
import { abortedError, backoffDelay, describe, fetchWithRetry, sleep, type RetryOptions } from './http-retry.ts';

/**
 * A GGUF file at a URL (`shrinkray import https://…/model.gguf`, the page's hub box): read by
 * Range requests only. The header (metadata, tensor infos, the tokenizer) is parsed through an
 * HTTP ByteSource, so the whole file is checked before a weight byte moves; the file itself
 * then comes down through the resumable ranged downloader into a staged file (a part file for
 * the CLI, a staged write of the store in the page), and the tensors are read from there one
 * at a time. Nothing holds the file whole in memory.
 *
 * A server that ignores Range (HTTP 200 to a range request) is refused up front rather than
 * downloaded whole: the header alone of a Llama 3 GGUF is megabytes into the file, and every
 * header read would fetch the file again from its first byte.
 */
export interface GgufUrl {
  /** The file name (the URL's last path segment, escaped), used in every error and as the model's name. */
  readonly name: string;
  /** The URL without credentials. */
  readonly url: string;
  /** Reads by ranges (each read is one GET). */
  readonly source: ByteSource;
  /** Headers every request for the file needs (the Authorization its URL's credentials became). */
  readonly headers: Record<string, string>;
}

export function isGgufUrl(s: string): boolean {
  return /^https?:\/\//i.test(s.trim());
}

/** The file name of a URL, escaped for a terminal (`%1b` would otherwise reach it as ESC, `%0a` forge a line). */
function fileName(url: URL): string {
  const last = url.pathname.split('/').pop() ?? '';
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    // keep the raw segment
  }
  return printable(name || 'model.gguf', 120);
}

/**
 * A URL's user:password become an Authorization header and leave the URL, so that no message,
 * progress line or part file's facts ever shows them (fetch would refuse such a URL anyway).
 */
function withoutCredentials(url: URL): { shown: URL; headers: Record<string, string> } {
  if (url.username === '' && url.password === '') return { shown: url, headers: {} };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  const token = btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)));
  return { shown, headers: { Authorization: `Basic ${token}` } };
}

/** A URL as messages show it: without credentials, control characters escaped. */
export function shownUrl(url: string): string {
  try {
    return printable(withoutCredentials(new URL(url.trim())).shown.href, 300);
  } catch {
    return printable(url.replace(/\/\/[^/@]*@/, '//'), 300);
  }
}

const MAGIC = 'GGUF';

export async function openGgufUrl(url: string, o: RetryOptions = {}): Promise<GgufUrl> {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new ShrinkrayError('bad_argument', `'${shownUrl(url)}' is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ShrinkrayError('bad_argument', `${shownUrl(url)}: only http(s) URLs can be imported`);
  }
  const { shown, headers } = withoutCredentials(parsed);
  const href = shown.href;
  const name = fileName(parsed);
  const opts: RetryOptions = { ...o, headers: { ...o.headers, ...headers } };
  const magic = await readMagic(href, name, opts);
  if (magic.byteLength < MAGIC.length) {
    throw new ShrinkrayError(
      'bad_file',
      `${name}: ${printable(href, 300)} is ${magic.byteLength} byte${magic.byteLength === 1 ? '' : 's'} long, too short to be a GGUF file`,
    );
  }
  if (new TextDecoder().decode(magic) !== MAGIC) {
    const seen = [...magic].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ShrinkrayError('bad_file', `${name}: ${printable(href, 300)} is not a GGUF file (it starts with bytes ${seen}, not 'GGUF')`);
  }
  const source = await openHttpSource(href, { ...opts, name });
  return { name, url: href, source, headers: opts.headers ?? {} };
}

/**
 * The first 4 bytes, by one Range request (more when the connection is cut: it is retried like
 * any other read). A server that answers with more than it was asked gives only its first 4 bytes.
 */
async function readMagic(href: string, name: string, o: RetryOptions): Promise<Uint8Array> {
  let failures = 0;
  for (;;) {
    const res = await fetchWithRetry(href, { headers: { Range: `bytes=0-${MAGIC.length - 1}` } }, name, o);
    if (res.status !== 206) {
      await res.body?.cancel().catch(() => undefined);
      throw new ShrinkrayError(
        'download_error',
        `${name}: ${printable(href, 300)} does not answer Range requests (HTTP ${res.status} to 'Range: bytes=0-3'); a GGUF from a URL is read ` +
          'by ranges (its header first, then the file in resumable parts). Download the file and import it from disk instead',
      );
    }
    try {
      return await firstBytes(res, MAGIC.length);
    } catch (e) {
      if (o.signal?.aborted) throw abortedError(name, o.signal);
      if (++failures > (o.retries ?? 5)) {
        throw new ShrinkrayError('download_error', `${name}: the connection to ${printable(href, 300)} kept failing: ${describe(e)}`, {
          cause: e,
        });
      }
      await sleep(backoffDelay(failures - 1, o), name, o.signal);
    }
  }
}

/** Up to `n` bytes of a body; the rest is not read. */
async function firstBytes(res: Response, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const reader = res.body?.getReader();
  if (!reader) return out.subarray(0, 0);
  try {
    while (got < n) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(n - got, value.byteLength);
      out.set(value.subarray(0, take), got);
      got += take;
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    throw e;
  }
  if (got === n) await reader.cancel().catch(() => undefined);
  return out.subarray(0, got);
}

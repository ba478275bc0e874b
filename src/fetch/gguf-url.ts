import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from '../formats/byte-source.ts';
import { openHttpSource } from './http-byte-source.ts';
import { fetchWithRetry, type RetryOptions } from './http-retry.ts';

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
  /** The file name (the URL's last path segment), used in every error and as the model's name. */
  readonly name: string;
  readonly url: string;
  /** Reads by ranges (each read is one GET). */
  readonly source: ByteSource;
}

export function isGgufUrl(s: string): boolean {
  return /^https?:\/\//i.test(s.trim());
}

function fileName(url: URL): string {
  const last = url.pathname.split('/').pop() ?? '';
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    // keep the raw segment
  }
  return name || 'model.gguf';
}

export async function openGgufUrl(url: string, o: RetryOptions = {}): Promise<GgufUrl> {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new ShrinkrayError('bad_argument', `'${url}' is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ShrinkrayError('bad_argument', `${url}: only http(s) URLs can be imported`);
  }
  const href = parsed.href;
  const name = fileName(parsed);
  const res = await fetchWithRetry(href, { headers: { Range: 'bytes=0-3' } }, name, o);
  if (res.status !== 206) {
    await res.body?.cancel().catch(() => undefined);
    throw new ShrinkrayError(
      'download_error',
      `${name}: ${href} does not answer Range requests (HTTP ${res.status} to 'Range: bytes=0-3'); a GGUF from a URL is read ` +
        'by ranges (its header first, then the file in resumable parts). Download the file and import it from disk instead',
    );
  }
  const magic = new Uint8Array(await res.arrayBuffer());
  if (magic.byteLength !== 4 || new TextDecoder().decode(magic) !== 'GGUF') {
    const seen = [...magic].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ShrinkrayError('bad_file', `${name}: ${href} is not a GGUF file (it starts with bytes ${seen || 'nothing'}, not 'GGUF')`);
  }
  const source = await openHttpSource(href, { ...o, name });
  return { name, url: href, source };
}

import { ShrinkrayError } from '../errors.ts';
import { abortedError } from './http-retry.ts';

/**
 * Whether a file exists at a URL and how big it is, without fetching its body: a HEAD request,
 * its Content-Length. A host that refuses HEAD (405, 501) is asked for the first byte instead
 * (`Range: bytes=0-0`), the size read from Content-Range (or Content-Length when it answers the
 * whole file, whose body is then dropped unread). A static host that answers without a length
 * (chunked) leaves the size undefined: the caller decides what to assume.
 */
export type FileProbe = { found: false; status: number } | { found: true; size?: number; html: boolean };

/** fetch, with a network failure (offline, DNS, a host without CORS headers) as a 'download_error' naming the URL. */
export async function fetchNamed(url: string, init: RequestInit, name: string, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal });
  } catch (e) {
    if (signal?.aborted) throw abortedError(name, signal);
    throw new ShrinkrayError(
      'download_error',
      `${name}: ${url} could not be fetched (${(e as Error).message}): the host is unreachable, or does not allow cross-origin requests (CORS)`,
      { cause: e },
    );
  }
}

/** Whether a response is a web page (a dev server or a single-page host answers unknown paths with one). */
export function isHtml(res: Response): boolean {
  return (res.headers.get('content-type') ?? '').toLowerCase().includes('text/html');
}

function length(res: Response): number | undefined {
  const v = res.headers.get('content-length');
  return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
}

export async function probeFile(url: string, name: string, signal?: AbortSignal): Promise<FileProbe> {
  const head = await fetchNamed(url, { method: 'HEAD' }, name, signal);
  if (head.ok) return { found: true, size: length(head), html: isHtml(head) };
  if (head.status !== 405 && head.status !== 501) return { found: false, status: head.status };
  const res = await fetchNamed(url, { headers: { Range: 'bytes=0-0' } }, name, signal);
  await res.body?.cancel().catch(() => undefined);
  if (!res.ok) return { found: false, status: res.status };
  const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
  const size = res.status === 206 ? (total !== undefined ? Number(total) : undefined) : length(res);
  return { found: true, size, html: isHtml(res) };
}

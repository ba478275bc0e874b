import { ShrinkrayError, isShrinkrayError } from '../errors.ts';
import { DEFAULT_STALL_MS, watchAnswer, watchBody } from './stall-watch.ts';

/**
 * fetch with the hub's failure modes sorted out: network errors, 5xx and 429 are retried
 * with exponential back-off; 404 is 'missing_file'; other refusals are 'download_error';
 * cancellation is 'aborted'. Every error names the file and the URL. Every attempt is held to
 * the stall rule (stall-watch.ts): silence or a dripping body ends it, and it is retried.
 */
export interface RetryOptions {
  /** Attempts after the first that fail without progress (default 5). */
  retries?: number;
  /** First back-off delay, doubled each time up to maxBackoffMs (defaults 500 and 8000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  signal?: AbortSignal;
  /** The fetch to use (tests and Node may pass their own); defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /** Waiting this long for an answer or a byte ends the attempt (default DEFAULT_STALL_MS; stall-watch.ts). */
  stallMs?: number;
  /** Headers sent with every request (the Authorization a URL's user:password becomes). */
  headers?: Record<string, string>;
}

export function abortedError(name: string, signal?: AbortSignal): ShrinkrayError {
  return new ShrinkrayError('aborted', `${name}: download cancelled`, { cause: signal?.reason });
}

/** Waits `ms`, or rejects 'aborted' as soon as the signal fires. */
export function sleep(ms: number, name: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(name, signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(name, signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function backoffDelay(attempt: number, o: RetryOptions): number {
  return Math.min(o.maxBackoffMs ?? 8000, (o.backoffMs ?? 500) * 2 ** attempt);
}

/** Whether a failed response is worth retrying (the server may recover). */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** The error for a response we cannot use. */
export function statusError(name: string, url: string, res: Response): ShrinkrayError {
  if (res.status === 404) {
    const code = res.headers.get('X-Error-Code');
    const what =
      code === 'RepoNotFound' ? 'the repo does not exist' : code === 'RevisionNotFound' ? 'the revision does not exist' : 'not found';
    return new ShrinkrayError('missing_file', `${name}: ${what} at ${url} (HTTP 404)`);
  }
  const gated = res.headers.get('X-Error-Code') === 'GatedRepo';
  const hint =
    res.status === 401
      ? gated
        ? ': the repo is gated: accept its terms on the hub, then give an access token of that account (in the app: under the hub address)'
        : ' (the repo may be gated or private: it needs an access token)'
      : res.status === 403
        ? gated
          ? ': the repo is gated and this access token has no access to it (accept its terms on the hub with the same account)'
          : ' (the repo may be gated or private)'
        : '';
  return new ShrinkrayError('download_error', `${name}: HTTP ${res.status} ${res.statusText} from ${url}${hint}`);
}

/**
 * Fetches until a usable response: 2xx, 304 or 416 come back to the caller; 404 and other
 * 4xx throw at once; network errors and 5xx are retried, then throw 'download_error'.
 */
export async function fetchWithRetry(url: string, init: RequestInit, name: string, o: RetryOptions = {}): Promise<Response> {
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  const retries = o.retries ?? 5;
  let last: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await sleep(backoffDelay(attempt - 1, o), name, o.signal);
    if (o.signal?.aborted) throw abortedError(name, o.signal);
    // Each attempt has its own controller: a stall aborts the attempt, the caller's signal everything.
    const controller = new AbortController();
    const stallMs = o.stallMs ?? DEFAULT_STALL_MS;
    const signal = o.signal ? AbortSignal.any([o.signal, controller.signal]) : controller.signal;
    const answered = watchAnswer(controller, stallMs);
    let res: Response;
    try {
      res = await doFetch(url, { ...init, headers: { ...o.headers, ...plainHeaders(init.headers) }, signal });
    } catch (e) {
      if (o.signal?.aborted) throw abortedError(name, o.signal);
      if (cannotSucceed(e)) throw new ShrinkrayError('download_error', `${name}: ${url} cannot be fetched: ${describe(e)}`, { cause: e });
      last = controller.signal.aborted ? controller.signal.reason : e;
      continue;
    } finally {
      answered();
    }
    if (res.ok || res.status === 416 || res.status === 304) return watchBody(res, controller, stallMs);
    if (!isRetryableStatus(res.status)) throw statusError(name, url, res);
    last = statusError(name, url, res);
    await res.body?.cancel().catch(() => undefined);
  }
  if (isShrinkrayError(last)) {
    throw new ShrinkrayError('download_error', `${last.message}, still after ${retries} retries`, { cause: last });
  }
  throw new ShrinkrayError('download_error', `${name}: could not fetch ${url} after ${retries} retries: ${describe(last)}`, {
    cause: last,
  });
}

/**
 * A fetch that failed before it reached the network, the same every time: a port fetch refuses
 * to use, a URL it cannot parse or one with credentials. Retrying would only wait.
 */
function cannotSucceed(e: unknown): boolean {
  if (!(e instanceof TypeError)) return false;
  const cause = e.cause as { message?: unknown; code?: unknown } | undefined;
  return cause?.message === 'bad port' || cause?.code === 'ERR_INVALID_URL' || /^Request cannot be constructed/.test(e.message);
}

function plainHeaders(h: HeadersInit | undefined): Record<string, string> {
  return Object.fromEntries(new Headers(h).entries());
}

/** A short description of a network error (undici hides the reason in `cause`). */
export function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
  return `${e.message}${cause}`;
}

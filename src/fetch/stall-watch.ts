/**
 * The one download stall rule of the page and the CLI (fetchWithRetry applies it to every
 * request): an attempt is abandoned, and retried like a cut connection, when
 * - no answer (status and headers) comes within `stallMs` of the request, or
 * - a body read waits `stallMs` without a byte, or
 * - a body drips: over each `stallMs` spent waiting on it, fewer than MIN_STALL_WINDOW_BYTES
 *   arrive (a byte a second would otherwise hold a download open for ever).
 * Only the time spent waiting on the network counts, never the time the reader spends
 * writing what it got (a store's chunk, a disk write), so a slow sink is never a stall.
 */

/** 30 s without an answer or a byte: past any real server's pause, well under the minutes of an OS socket timeout. */
export const DEFAULT_STALL_MS = 30_000;

/** Below this many bytes per stall window of waiting, a body is dripping, not flowing (34 B/s at 30 s). */
export const MIN_STALL_WINDOW_BYTES = 1024;

/** The abort reason of a stalled attempt; plain Error, so the retry loops treat it as a failing connection. */
export class StallError extends Error {
  override readonly name = 'StallError';
}

export function isStallError(e: unknown): e is StallError {
  return e instanceof StallError;
}

/**
 * Aborts `attempt` unless an answer comes within `stallMs`; the caller calls the returned
 * function once it has the answer.
 */
export function watchAnswer(attempt: AbortController, stallMs: number): () => void {
  const timer = setTimeout(() => attempt.abort(new StallError(`no answer within ${seconds(stallMs)}`)), stallMs);
  return () => clearTimeout(timer);
}

/** `res` with its body read under the stall rule; aborting `attempt` ends the body (and the request). */
export function watchBody(res: Response, attempt: AbortController, stallMs: number): Response {
  const body = res.body;
  // Null-body statuses (HEAD answers, 204, 304) cannot be rebuilt with a stream.
  if (!body || res.status === 204 || res.status === 304) return res;
  const reader = body.getReader();
  let waitedMs = 0; // time spent waiting on reads in this window
  let windowBytes = 0;
  const stall = (why: string) => {
    const e = new StallError(why);
    attempt.abort(e);
    return e;
  };
  const watched = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const started = performance.now();
      const timer = setTimeout(() => stall(`no data for ${seconds(stallMs)}`), stallMs);
      try {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        waitedMs += performance.now() - started;
        windowBytes += value.byteLength;
        if (waitedMs >= stallMs) {
          if (windowBytes < MIN_STALL_WINDOW_BYTES) {
            throw stall(
              `only ${windowBytes} bytes in ${seconds(waitedMs)} (a body dripping slower than ${MIN_STALL_WINDOW_BYTES} bytes per ${seconds(stallMs)})`,
            );
          }
          waitedMs = 0;
          windowBytes = 0;
        }
        controller.enqueue(value);
      } catch (e) {
        // The abort's reason says why the body ended; undici's own error would only say 'aborted'.
        const reason: unknown = attempt.signal.aborted && isStallError(attempt.signal.reason) ? attempt.signal.reason : e;
        await reader.cancel(reason).catch(() => undefined);
        controller.error(reason);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(watched, { status: res.status, statusText: res.statusText, headers: res.headers });
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

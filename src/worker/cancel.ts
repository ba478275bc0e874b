import * as Comlink from 'comlink';
import { ShrinkrayError } from '../errors.ts';
import type { CancelMessage, CancelPort } from './protocol.ts';

/**
 * AbortSignal across the worker boundary. A signal cannot be posted, so the client opens a
 * MessageChannel per call, keeps one port and transfers the other: abort posts one
 * CancelMessage, and the worker's side turns it back into an AbortSignal.
 */

/** Client side: a port to transfer with the call, and `done()` to close ours when the call ends. */
export function cancelPortFor(signal: AbortSignal | undefined): { port: CancelPort | undefined; done: () => void } {
  if (!signal) return { port: undefined, done: () => undefined };
  const { port1, port2 } = new MessageChannel();
  const onAbort = () => {
    const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'cancelled');
    port1.postMessage({ type: 'cancel', reason } satisfies CancelMessage);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return {
    port: port2,
    done: () => {
      signal.removeEventListener('abort', onAbort);
      port1.close();
    },
  };
}

/** Worker side: an AbortSignal that fires when the client posts on `port`; `close()` when the call ends. */
export function signalFromPort(port: CancelPort | undefined): { signal: AbortSignal; close: () => void } {
  const controller = new AbortController();
  if (!port) return { signal: controller.signal, close: () => undefined };
  port.onmessage = (e: MessageEvent<CancelMessage>) => {
    if (e.data?.type === 'cancel') controller.abort(new ShrinkrayError('aborted', `cancelled: ${e.data.reason}`));
  };
  port.start();
  return { signal: controller.signal, close: () => port.close() };
}

/** Throws 'aborted' when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new ShrinkrayError('aborted', `${what} was cancelled`, { cause: signal.reason });
}

/**
 * Resolves after one turn of the event loop. A loop whose awaits all settle as microtasks
 * (onnxruntime's wasm runs) never lets the cancel port's message in; awaiting this between
 * steps does, for about a tenth of a millisecond.
 */
export function nextEventTurn(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
    port2.close();
  });
}

/** Worker side: frees the comlink proxies of a call's callbacks once the call is over (their ports would stay open). */
export function releaseCallbacks(...callbacks: unknown[]): void {
  for (const cb of callbacks) {
    const release = (cb as { [Comlink.releaseProxy]?: () => void } | undefined)?.[Comlink.releaseProxy];
    if (typeof release === 'function') void Promise.resolve(release.call(cb)).catch(() => undefined);
  }
}

/**
 * Runs calls one at a time, in the order they came: an onnxruntime session runs one pass
 * at a time, and two compressions at once would double the memory the pipeline bounds.
 */
export function serialQueue(): <T>(body: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(body: () => Promise<T>): Promise<T> => {
    const run = tail.then(body, body);
    tail = run.catch(() => undefined);
    return run;
  };
}

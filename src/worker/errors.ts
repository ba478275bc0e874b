import * as Comlink from 'comlink';
import { isShrinkrayError, ShrinkrayError } from '../errors.ts';
import type { SerializedShrinkrayError } from './protocol.ts';

/**
 * ShrinkrayError across the worker boundary, whole: comlink's own 'throw' handler keeps
 * only message, name and stack, so the page could not tell a quota failure from a corrupt
 * file. This handler replaces it on both sides (register it in every worker and in the
 * client). Foreign errors (DOMException, onnxruntime's Error) become ShrinkrayErrors with
 * the closest code, so the page only ever catches one kind.
 */

/** The ShrinkrayError a thrown value stands for. */
export function toShrinkrayError(e: unknown): ShrinkrayError {
  if (e instanceof ShrinkrayError) return e;
  if (isShrinkrayError(e)) return new ShrinkrayError(e.code, e.message, { cause: e.cause });
  const name = (e as { name?: unknown })?.name;
  const message = e instanceof Error ? e.message : String(e);
  if (name === 'AbortError') return new ShrinkrayError('aborted', message || 'cancelled', { cause: e });
  if (name === 'QuotaExceededError') return new ShrinkrayError('quota_exceeded', `storage is full: ${message}`, { cause: e });
  return new ShrinkrayError('runtime_error', `${typeof name === 'string' ? `${name}: ` : ''}${message}`, { cause: e });
}

export function serializeError(e: unknown): SerializedShrinkrayError {
  const err = toShrinkrayError(e);
  const cause = err.cause === undefined ? undefined : err.cause instanceof Error ? err.cause.message : String(err.cause);
  return { kind: 'shrinkray-error', code: err.code, message: err.message, stack: err.stack, ...(cause !== undefined ? { cause } : {}) };
}

export function deserializeError(s: SerializedShrinkrayError): ShrinkrayError {
  const err = new ShrinkrayError(s.code, s.message, s.cause !== undefined ? { cause: new Error(s.cause) } : undefined);
  // The worker's stack says where it failed; keep it, under the page's own first line.
  if (s.stack) err.stack = `${err.name}: ${err.message}\n    (in worker)\n${s.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

function isSerialized(x: unknown): x is SerializedShrinkrayError {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'shrinkray-error';
}

type ThrowHandler = Comlink.TransferHandler<{ value: unknown }, unknown>;
let registered = false;

/** Installs the handler (idempotent). Comlink's 'throw' handler wraps the thrown value as `{ value }`. */
export function registerErrorTransfer(): void {
  if (registered) return;
  registered = true;
  const original = Comlink.transferHandlers.get('throw') as ThrowHandler;
  const handler: ThrowHandler = {
    canHandle: (v): v is { value: unknown } => original.canHandle(v),
    serialize: ({ value }) => [serializeError(value), []],
    deserialize: (s) => {
      if (isSerialized(s)) throw deserializeError(s);
      return original.deserialize(s);
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}

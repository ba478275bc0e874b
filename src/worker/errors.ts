import * as Comlink from 'comlink';
import { deserializeError, isSerializedError, serializeError } from '../errors.ts';

/**
 * ShrinkrayError across the worker boundary, whole: comlink's own 'throw' handler keeps
 * only message, name and stack, so the page could not tell a quota failure from a corrupt
 * file. This handler replaces it on both sides (register it in every worker and in the
 * client), with the serialisation every channel uses (src/errors.ts).
 */
export { deserializeError, serializeError, toShrinkrayError } from '../errors.ts';

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
      if (isSerializedError(s)) throw deserializeError(s);
      return original.deserialize(s);
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}

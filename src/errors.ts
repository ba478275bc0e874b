/**
 * The one error type of the project. `code` says what kind of failure it is, so callers
 * (and the UI, across the worker boundary) can react without parsing messages; the
 * message names the file, tensor or field and what was expected.
 */
export const SHRINKRAY_ERROR_CODES = Object.freeze([
  'bad_file', // a file is corrupt, truncated, or not what its name says
  'missing_file', // a model folder lacks a file it needs
  'unsupported_architecture', // config.json names a model family we cannot run
  'bad_config', // config.json is missing a field or has a value out of range
  'bad_recipe', // a compression recipe does not parse or does not fit the model
  'bad_argument', // a caller (CLI, API) passed something invalid
  'download_error', // the network failed in a way retries did not fix
  'quota_exceeded', // storage is full or the quota is too small
  'aborted', // the caller cancelled
  'timeout', // something waited on (a worker's start, a lock) did not answer in its bound
  'runtime_error', // onnxruntime or WebGPU refused to run something
] as const);

export type ShrinkrayErrorCode = (typeof SHRINKRAY_ERROR_CODES)[number];

export class ShrinkrayError extends Error {
  override readonly name = 'ShrinkrayError';
  constructor(
    readonly code: ShrinkrayErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isShrinkrayError(e: unknown): e is ShrinkrayError {
  return e instanceof ShrinkrayError || (e instanceof Error && e.name === 'ShrinkrayError' && 'code' in e);
}

/**
 * A ShrinkrayError as plain data, for every channel between threads: comlink (worker/errors.ts),
 * the kernel pools' messages, the engine's threads and the CLI's tokenizer thread. Structured
 * clone keeps it as is; the error's own object (its class, its cause) would not cross whole.
 */
export interface SerializedShrinkrayError {
  kind: 'shrinkray-error';
  code: ShrinkrayErrorCode;
  message: string;
  stack?: string;
  /** The cause's message, when there was one: its object does not cross. */
  cause?: string;
}

/**
 * The ShrinkrayError a thrown value stands for. Foreign errors (DOMException, onnxruntime's
 * Error, a wasm trap) take the closest code, so every receiver only ever catches one kind.
 */
export function toShrinkrayError(e: unknown): ShrinkrayError {
  if (e instanceof ShrinkrayError) return e;
  if (isSerializedError(e)) return deserializeError(e);
  if (isShrinkrayError(e)) return new ShrinkrayError(knownCode(e.code), e.message, { cause: e.cause });
  const name = (e as { name?: unknown })?.name;
  const message = e instanceof Error ? e.message : String(e);
  if (name === 'AbortError') return new ShrinkrayError('aborted', message || 'cancelled', { cause: e });
  if (name === 'QuotaExceededError') return new ShrinkrayError('quota_exceeded', `storage is full: ${message}`, { cause: e });
  return new ShrinkrayError('runtime_error', `${typeof name === 'string' ? `${name}: ` : ''}${message}`, { cause: e });
}

/** `e` (anything thrown) as plain data that keeps its code, message, stack and cause's message. */
export function serializeError(e: unknown): SerializedShrinkrayError {
  const err = toShrinkrayError(e);
  const cause = err.cause === undefined ? undefined : err.cause instanceof Error ? err.cause.message : String(err.cause);
  return { kind: 'shrinkray-error', code: err.code, message: err.message, stack: err.stack, ...(cause !== undefined ? { cause } : {}) };
}

/** The error back on the receiving side; `context` (e.g. 'quantize worker failed to start') goes before its message. */
export function deserializeError(s: SerializedShrinkrayError, context?: string): ShrinkrayError {
  const message = context ? `${context}: ${s.message}` : s.message;
  const err = new ShrinkrayError(knownCode(s.code), message, s.cause !== undefined ? { cause: new Error(s.cause) } : undefined);
  // The sender's stack says where it failed; keep it, under the receiver's own first line.
  if (s.stack) err.stack = `${err.name}: ${err.message}\n    (in worker)\n${s.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

export function isSerializedError(x: unknown): x is SerializedShrinkrayError {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'shrinkray-error';
}

// A code this build does not know (a stale worker, a foreign sender) reads as runtime_error.
const knownCode = (code: unknown): ShrinkrayErrorCode =>
  (SHRINKRAY_ERROR_CODES as readonly unknown[]).includes(code) ? (code as ShrinkrayErrorCode) : 'runtime_error';

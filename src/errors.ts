/**
 * The one error type of the project. `code` says what kind of failure it is, so callers
 * (and the UI, across the worker boundary) can react without parsing messages; the
 * message names the file, tensor or field and what was expected.
 */
export type ShrinkrayErrorCode =
  | 'bad_file' // a file is corrupt, truncated, or not what its name says
  | 'missing_file' // a model folder lacks a file it needs
  | 'unsupported_architecture' // config.json names a model family we cannot run
  | 'bad_config' // config.json is missing a field or has a value out of range
  | 'bad_recipe' // a compression recipe does not parse or does not fit the model
  | 'bad_argument' // a caller (CLI, API) passed something invalid
  | 'download_error' // the network failed in a way retries did not fix
  | 'quota_exceeded' // storage is full or the quota is too small
  | 'aborted' // the caller cancelled
  | 'timeout' // something waited on (a worker's start, a lock) did not answer in its bound
  | 'runtime_error'; // onnxruntime or WebGPU refused to run something

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

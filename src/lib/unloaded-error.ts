import { ShrinkrayError } from '../errors.ts';

/** What every call on an unloaded engine throws, on either side of the worker. */
export function unloadedError(model: string): ShrinkrayError {
  return new ShrinkrayError('bad_argument', `the engine for ${model} was unloaded; call createEngine again`);
}

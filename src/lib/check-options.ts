import { ShrinkrayError } from '../errors.ts';
import type { CreateEngineOptions } from './engine-api.ts';

/** The options, checked (a typo'd engine or a fractional thread count fails here, naming the value). */
export function checkOptions(options: CreateEngineOptions): CreateEngineOptions {
  if (options === null || typeof options !== 'object') throw new ShrinkrayError('bad_argument', 'createEngine: options must be an object');
  const { engine, device, threads, worker, onProgress, signal } = options;
  const bad = (what: string) => new ShrinkrayError('bad_argument', `createEngine: ${what}`);
  if (engine !== undefined && !['auto', 'cpu', 'onnx'].includes(engine))
    throw bad(`engine must be 'auto', 'cpu' or 'onnx', got '${String(engine)}'`);
  if (device !== undefined && !['auto', 'wasm', 'webgpu'].includes(device))
    throw bad(`device must be 'auto', 'wasm' or 'webgpu', got '${String(device)}'`);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1))
    throw bad(`threads must be an integer >= 1, got ${String(threads)}`);
  if (worker !== undefined && typeof worker !== 'boolean') throw bad(`worker must be true or false, got ${String(worker)}`);
  if (onProgress !== undefined && typeof onProgress !== 'function') throw bad('onProgress must be a function');
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw bad('signal must be an AbortSignal');
  if (signal?.aborted) throw new ShrinkrayError('aborted', 'createEngine was cancelled before it started');
  return options;
}

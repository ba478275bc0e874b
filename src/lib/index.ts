import { ShrinkrayError } from '../errors.ts';
import { openSpec, sourceSpec } from './browser-source.ts';
import type { CreateEngineOptions, Engine, EngineSource } from './engine-api.ts';
import { openCore } from './engine-core.ts';
import { engineFrom } from './engine-front.ts';
import { browserEngineHost } from '../worker/chat-model.ts';
import { workerCore } from './worker-core.ts';

/**
 * 'shrinkray' in a browser: `createEngine(source, options)` loads a compressed model and answers
 * in the shape of OpenAI's chat completions (engine-api.ts). By default it runs in a dedicated
 * Worker, so the page stays responsive; `worker: false` runs it on the calling thread (for code
 * that is already in a worker).
 */
export type * from './engine-api.ts';
export { isShrinkrayError, ShrinkrayError, type ShrinkrayErrorCode } from '../errors.ts';

export async function createEngine(source: EngineSource, options: CreateEngineOptions = {}): Promise<Engine> {
  const o = checkOptions(options);
  const spec = sourceSpec(source);
  if (o.worker ?? true) return engineFrom(await workerCore(spec, o));
  const { folder, close } = await openSpec(spec, o.onProgress, o.signal);
  return engineFrom(await openCore(folder, browserEngineHost, o, close));
}

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

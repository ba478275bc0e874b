import { ShrinkrayError } from '../errors.ts';
import type { LocalFile } from '../worker/protocol.ts';
import type { CreateEngineOptions, EngineSource } from './engine-api.ts';

/**
 * What the caller passes, checked on the caller's side (where the stack points at the mistake):
 * the source as plain data that crosses to the worker, the options, and the error every call on
 * an unloaded engine gets.
 */

/**
 * A source as plain data (it crosses to the worker), then opened where the model will run.
 * A relative URL ('./model/', '/models/x/') resolves against the page, on the page's side.
 */
export type SourceSpec =
  { kind: 'url'; url: string } | { kind: 'files'; files: LocalFile[] } | { kind: 'stored'; id: string; storeName?: string };

export function sourceSpec(source: EngineSource): SourceSpec {
  if (source instanceof URL) return { kind: 'url', url: source.href };
  if (typeof source === 'string') {
    if (source === '') throw new ShrinkrayError('bad_argument', 'createEngine: the source is an empty string');
    if (/^(\.{0,2}\/)/.test(source)) return { kind: 'url', url: new URL(source, pageUrl()).href };
    return /^[a-z][a-z\d+.-]*:/i.test(source) ? { kind: 'url', url: source } : { kind: 'stored', id: source };
  }
  if (isFileList(source)) {
    const files = localFiles(source);
    if (files.length === 0) throw new ShrinkrayError('bad_argument', 'createEngine: the file list is empty');
    return { kind: 'files', files };
  }
  if (source && typeof source === 'object' && 'stored' in source && typeof source.stored === 'string') {
    const { storeName } = source as { storeName?: unknown };
    return { kind: 'stored', id: source.stored, ...(typeof storeName === 'string' ? { storeName } : {}) };
  }
  throw new ShrinkrayError(
    'bad_argument',
    'createEngine: the source must be an http(s) URL of a model folder, File[] or a FileList, or { stored: id } (in Node: a folder path)',
  );
}

/** Files with their paths: webkitRelativePath from a folder picker, else the name. Plain data, so it crosses to a worker. */
export function localFiles(files: readonly File[] | FileList): LocalFile[] {
  return [...(files as Iterable<File>)].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

function isFileList(v: unknown): v is readonly File[] | FileList {
  if (typeof FileList !== 'undefined' && v instanceof FileList) return true;
  return Array.isArray(v) && v.every((f) => typeof File !== 'undefined' && f instanceof File);
}

function pageUrl(): string {
  const href = (globalThis as { location?: { href?: string } }).location?.href;
  if (!href) throw new ShrinkrayError('bad_argument', 'createEngine: a relative URL needs a page to resolve against; give an absolute URL');
  return href;
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

/** What every call on an unloaded engine throws, on either side of the worker. */
export function unloadedError(model: string): ShrinkrayError {
  return new ShrinkrayError('bad_argument', `the engine for ${model} was unloaded; call createEngine again`);
}

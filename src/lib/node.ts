import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileEngine, type EngineModules } from '../engine/engine-module.ts';
import { ENGINE_WASM_URLS } from '../engine/wasm/engine-wasm-url.ts';
import { ShrinkrayError } from '../errors.ts';
import type { EngineHost } from '../jobs/open-engine.ts';
import { nodeThreadSpawner } from '../node/engine-node.ts';
import { folderOpener } from '../node/folder-opener.ts';
import { checkOptions } from './arguments.ts';
import type { CreateEngineOptions, Engine, EngineSource } from './engine-api.ts';
import { openCore } from './engine-core.ts';
import { engineFrom } from './engine-front.ts';
import { urlFolderOpener, type FolderOpener } from './url-folder-opener.ts';

/**
 * 'shrinkray' in Node: the same engine as the browser's, on this thread (`worker` is ignored; the
 * CPU engine's helper threads are worker_threads), from a folder path, a file: URL or an http(s)
 * URL. The tokenizer runs on this thread too (the CLI guards it on a thread of its own, which needs
 * tsx: a library has no TypeScript loader). onnxruntime-web is loaded only for engine 'onnx'.
 */
export type * from './engine-api.ts';
export { isShrinkrayError, ShrinkrayError, type ShrinkrayErrorCode } from '../errors.ts';

let compiled: Promise<EngineModules> | undefined;

/** The engine's modules, read from beside this module (src/engine/wasm/build/ in the repository, dist-lib/node/ in the package). */
function engineModules(): Promise<EngineModules> {
  compiled ??= compileEngine(async (variant) => {
    const path = fileURLToPath(ENGINE_WASM_URLS[variant]);
    try {
      const bytes = await readFile(path);
      return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
    } catch (e) {
      const hint = "(in the repository: run 'npm run build:wasm')";
      throw new ShrinkrayError('missing_file', `the CPU engine's ${path} cannot be read: ${(e as Error).message} ${hint}`);
    }
  });
  compiled.catch(() => (compiled = undefined));
  return compiled;
}

const nodeLibraryHost: EngineHost = {
  engineModules,
  spawner: nodeThreadSpawner,
  defaultThreads: () => 1,
  onnxThreads: false,
  weightsGraph: 'fp32',
};

export async function createEngine(source: EngineSource, options: CreateEngineOptions = {}): Promise<Engine> {
  const o = checkOptions(options);
  return engineFrom(await openCore(nodeFolder(source, o), nodeLibraryHost, o));
}

function nodeFolder(source: EngineSource, o: CreateEngineOptions): FolderOpener {
  const url =
    source instanceof URL ? source : typeof source === 'string' && /^[a-z][a-z\d+.-]+:\/\//i.test(source) ? new URL(source) : undefined;
  if (url && url.protocol !== 'file:') return urlFolderOpener(url, o.onProgress, o.signal);
  if (!url && typeof source !== 'string') {
    throw new ShrinkrayError('bad_argument', 'createEngine in Node takes a folder path, a file: URL or an http(s) URL of a model folder');
  }
  const dir = url ? fileURLToPath(url) : resolve(source as string);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ShrinkrayError(
      'missing_file',
      `createEngine: ${dir} is not a folder (a compressed model folder holds config.json and onnx/model.onnx)`,
    );
  }
  return { ...folderOpener(dir), where: dir };
}

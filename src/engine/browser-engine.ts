import { compileEngine, sharedMemoryAvailable, type EngineModules, type EngineWasmReader } from './engine-module.ts';
import { ShrinkrayError } from '../errors.ts';
import { ENGINE_WASM_URLS } from './wasm/engine-wasm-url.ts';

/**
 * The engine in a page or a worker: its modules fetched from the bundle's URLs (served with
 * the app, never a CDN) and compiled once, and how many threads a model gets by default.
 */
let compiled: Promise<EngineModules> | undefined;

/** A built variant's bytes, fetched from where the bundle put it. */
export const fetchEngineWasm: EngineWasmReader = async (variant) => {
  const url = ENGINE_WASM_URLS[variant];
  const response = await fetch(url);
  if (!response.ok) throw new ShrinkrayError('missing_file', `${url.pathname}: HTTP ${response.status} (is the app's build complete?)`);
  return response.arrayBuffer();
};

/** The engine's modules, compiled once per page or worker (relaxed SIMD where the browser validates it). */
export function browserEngineModules(): Promise<EngineModules> {
  compiled ??= compileEngine(fetchEngineWasm);
  compiled.catch(() => (compiled = undefined)); // a failed fetch may succeed on the next load
  return compiled;
}

/**
 * Threads for a model: every core up to 4 where memory can be shared (a cross-origin
 * isolated page), else 1. Helpers park in Atomics.wait between tasks, so a second thread on
 * a 2-core machine costs no core while idle.
 */
export function defaultEngineThreads(): number {
  if (!sharedMemoryAvailable()) return 1;
  const cores = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(4, cores));
}

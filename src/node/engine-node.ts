import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { ShrinkrayError } from '../errors.ts';
import { compileEngine, type EngineModules } from '../engine/engine-module.ts';
import type { EngineThreadSpawner } from '../engine/thread-pool.ts';
import { ENGINE_WASM_URLS, type EngineWasmVariant } from '../engine/wasm/engine-wasm-url.ts';

/** The CPU engine's modules and threads in Node: the built files read from disk, helpers as worker_threads. */
async function readEngineWasm(variant: EngineWasmVariant): Promise<Uint8Array<ArrayBuffer>> {
  const path = fileURLToPath(ENGINE_WASM_URLS[variant]);
  try {
    const bytes = await readFile(path);
    return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    throw new ShrinkrayError('missing_file', `${path} is missing: run 'npm run build:wasm' first`, { cause: e });
  }
}

// Node 20's V8 (11.3) implements relaxed SIMD behind this flag (on by default from V8 11.4,
// Chromium 114, Node 22); wasm features are read at compile time, so setting it here is
// enough. Where it is missing the engine validates the relaxed build, fails, and takes the
// plain one.
try {
  setFlagsFromString('--experimental-wasm-relaxed-simd');
} catch {
  // an unknown flag on a newer Node: relaxed SIMD is on there anyway
}

let compiled: Promise<EngineModules> | undefined;

/** The engine's modules, compiled once per process (the default SIMD flavour) or as `simd` asks. */
export function engineModulesNode(simd?: 'relaxed' | 'plain'): Promise<EngineModules> {
  if (simd) return compileEngine(readEngineWasm, { simd });
  compiled ??= compileEngine(readEngineWasm);
  return compiled;
}

/** Helper threads as worker_threads running the engine's plain-JS thread program (no loader needed). */
export const nodeThreadSpawner: EngineThreadSpawner = (source) => {
  const glue = `${source}
const { parentPort } = require('node:worker_threads');
parentPort.once('message', (d) => engineThread(d, (m) => parentPort.postMessage(m)));`;
  const worker = new Worker(glue, { eval: true });
  worker.unref(); // a parked helper must not keep the process alive
  return {
    postMessage: (m) => worker.postMessage(m),
    onMessage: (listener) => {
      worker.on('message', listener);
      worker.on('error', (e) => listener({ error: e.message }));
    },
    terminate: () => void worker.terminate(),
  };
};

import { Worker } from 'node:worker_threads';
import { serializeError, ShrinkrayError } from '../errors.ts';
import { readKernelWasm } from './kernel-wasm-node.ts';
import { compileEngine, type EngineModules } from '../engine/engine-module.ts';
import type { EngineThreadSpawner } from '../engine/thread-pool.ts';
import { ENGINE_WASM_URLS, type EngineWasmVariant } from '../engine/wasm/engine-wasm-url.ts';

/** The CPU engine's modules and threads in Node: the built files read from disk, helpers as worker_threads. */
const readEngineWasm = (variant: EngineWasmVariant) => readKernelWasm(ENGINE_WASM_URLS[variant]);

// Node 20's V8 (11.3) has relaxed SIMD only behind --experimental-wasm-relaxed-simd, and its
// baseline compiler (Liftoff) computes i32x4.relaxed_dot_i8x16_i7x16_add_s wrongly there
// (stories260K int4 logits off by 20 until the optimizing tier takes over): the engine
// validates the relaxed build, fails, and runs the plain one. Node 22 and Chromium ship it.
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
parentPort.on('message', (d) => engineThread(d, (m) => parentPort.postMessage(m)));`;
  const worker = new Worker(glue, { eval: true });
  worker.unref(); // a parked helper must not keep the process alive
  let terminated = false;
  return {
    postMessage: (m) => worker.postMessage(m),
    onMessage: (listener) => {
      worker.on('message', listener);
      worker.on('error', (e) => listener({ error: serializeError(e) }));
      // A thread that ends unasked (its memory, a crash) would leave a start waiting for its 'ready'.
      worker.on('exit', (code) => {
        if (!terminated)
          listener({ error: serializeError(new ShrinkrayError('runtime_error', `the engine thread exited (code ${code})`)) });
      });
    },
    terminate: () => {
      terminated = true;
      void worker.terminate();
    },
  };
};

/**
 * What one JavaScript scope (the page, or a worker, where the work runs) offers, read the
 * way the app's code meets it: by validating tiny wasm modules and looking up the APIs.
 * capabilities.ts runs it in the page and in a probe worker (capability-probe.worker.ts).
 */
export interface ScopeProbe {
  /** WebAssembly with fixed-width SIMD (v128): the CPU engine, the kernels and onnxruntime-web need it. */
  wasmSimd: boolean;
  /** Relaxed SIMD (i32x4.relaxed_dot_i8x16_i7x16_add_s and friends): the engine's faster build. */
  relaxedSimd: boolean;
  /** Cross-origin isolated, with SharedArrayBuffer and shared wasm memory: wasm threads. */
  sharedMemory: boolean;
  crossOriginIsolated: boolean;
  /** navigator.gpu is there (whether it yields an adapter is asked in the page only). */
  webgpuApi: boolean;
  webLocks: boolean;
  waitAsync: boolean;
}

// (module (func (result v128) v128.const i32x4 0 0 0 0))
const SIMD_MODULE = [
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  5,
  1,
  96,
  0,
  1,
  123,
  3,
  2,
  1,
  0,
  10,
  22,
  1,
  20,
  0,
  253,
  12,
  ...new Array<number>(16).fill(0),
  11,
];
// (module (func (result v128) v128.const i32x4 0 0 0 0  i32x4.relaxed_trunc_f32x4_s)): opcode 0xfd 0x101.
const RELAXED_MODULE = [
  ...[0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 25, 1, 23, 0, 253, 12],
  ...new Array<number>(16).fill(0),
  ...[253, 129, 2, 11],
];

function validates(bytes: number[]): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}

function sharedMemoryWorks(): boolean {
  if (globalThis.crossOriginIsolated !== true || typeof SharedArrayBuffer !== 'function') return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

export function probeScope(): ScopeProbe {
  const nav = (globalThis as { navigator?: { gpu?: unknown; locks?: unknown } }).navigator;
  return {
    wasmSimd: validates(SIMD_MODULE),
    relaxedSimd: validates(RELAXED_MODULE),
    sharedMemory: sharedMemoryWorks(),
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    webgpuApi: !!nav?.gpu,
    webLocks: !!nav?.locks,
    waitAsync: typeof (Atomics as { waitAsync?: unknown }).waitAsync === 'function',
  };
}

/** What the probe worker answers: its own scope, and whether it could start a worker of its own. */
export interface WorkerProbe {
  scope: ScopeProbe;
  /** A module worker started from this one answered (the quantize pool and the engine's threads are such workers). */
  nestedWorkers: boolean;
}

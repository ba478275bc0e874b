import { ShrinkrayError } from '../errors.ts';
import type { EngineWasmVariant } from './wasm/engine-wasm-url.ts';

/**
 * The engine's kernels as compiled modules: which SIMD flavour this runtime takes (relaxed
 * SIMD where it validates, else plain, both built from one source), and whether threads are
 * possible (a shared WebAssembly.Memory needs SharedArrayBuffer, i.e. a cross-origin isolated
 * page, a worker of one, or Node).
 */
export interface EngineExports {
  heapBase(): number;
  relaxed(): number;
  actBytes(): number;
  quantizeActs(
    x: number,
    t0: number,
    t1: number,
    ldx: number,
    K: number,
    bits: number,
    bs: number,
    blocks: number,
    xq: number,
    ldq: number,
    xs: number,
    xsum: number,
    ldb: number,
    xs4: number,
    xsum4: number,
    tmp: number,
  ): void;
  nbitsGemm(
    wd: number,
    M: number,
    xq: number,
    ldq: number,
    xs: number,
    xsum: number,
    ldb: number,
    xs4: number,
    xsum4: number,
    y: number,
    ldy: number,
    n0: number,
    n1: number,
  ): void;
  denseGemm(wd: number, M: number, x: number, ldx: number, y: number, ldy: number, n0: number, n1: number): void;
  attention(
    q: number,
    T: number,
    start: number,
    heads: number,
    kvHeads: number,
    hd: number,
    keys: number,
    values: number,
    cap: number,
    out: number,
    scale: number,
    scratch: number,
    i0: number,
    i1: number,
    window?: number, // sliding window, 0 or absent for none
  ): void;
  rmsNorm(x: number, w: number, T: number, dim: number, eps: number, out: number): void;
  rope(x: number, T: number, ld: number, heads: number, hd: number, cos: number, sin: number): void;
  addInPlace(x: number, y: number, n: number): void;
  siluMul(g: number, u: number, T: number, ld: number, n0: number, n1: number): void;
  /** Gemma's GeGLU: g = gelu_tanh(g) * u on columns [n0, n1). */
  geluTanhMul(g: number, u: number, T: number, ld: number, n0: number, n1: number): void;
  embedDense(table: number, f16: number, dim: number, ids: number, T: number, out: number): void;
  embedNBits(
    codes: number,
    scales: number,
    zp: number,
    zpRow: number,
    bits: number,
    bs: number,
    dim: number,
    ids: number,
    T: number,
    out: number,
  ): void;
  storeKV(k: number, v: number, T: number, kvHeads: number, hd: number, keys: number, values: number, cap: number, start: number): void;
  setTaskBlock(p: number): void;
  runTask(part: number, parts: number): void;
}

/** Reads a built variant's bytes (the browser fetches its URL; Node reads the file). */
export type EngineWasmReader = (variant: EngineWasmVariant) => Promise<BufferSource>;

export interface EngineModules {
  simd: 'relaxed' | 'plain';
  single: WebAssembly.Module; // private memory: one thread
  shared: WebAssembly.Module | null; // shared memory: threads; null where SharedArrayBuffer is missing
}

/** Whether this runtime can make a shared WebAssembly.Memory (cross-origin isolation in a page). */
export function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

async function compile(read: EngineWasmReader, variant: EngineWasmVariant): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(await read(variant));
  } catch (e) {
    throw new ShrinkrayError('runtime_error', `engine-${variant}.wasm: could not compile (is WASM SIMD supported?): ${String(e)}`, {
      cause: e,
    });
  }
}

/**
 * Compiles the variants this runtime can use. `simd` forces a flavour (tests compare them);
 * by default relaxed SIMD is taken when the runtime validates it (Chromium does; Node 20 only
 * with --experimental-wasm-relaxed-simd).
 */
export async function compileEngine(
  read: EngineWasmReader,
  opts: { simd?: 'relaxed' | 'plain'; threads?: boolean } = {},
): Promise<EngineModules> {
  let simd = opts.simd;
  if (!simd) {
    const bytes = await read('relaxed-single');
    simd = WebAssembly.validate(bytes) ? 'relaxed' : 'plain';
  }
  const wantShared = opts.threads !== false && sharedMemoryAvailable();
  const [single, shared] = await Promise.all([
    compile(read, `${simd}-single`),
    wantShared ? compile(read, `${simd}-shared`) : Promise.resolve(null),
  ]);
  return { simd, single, shared };
}

/** Instantiates a module on `memory` (the heap every thread of one model shares). */
export async function instantiateEngine(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<EngineExports> {
  try {
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    return instance.exports as unknown as EngineExports;
  } catch (e) {
    throw new ShrinkrayError('runtime_error', `the engine's wasm module could not be instantiated: ${String(e)}`, { cause: e });
  }
}

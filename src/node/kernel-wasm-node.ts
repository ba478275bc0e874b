import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { fsError } from './fs-errors.ts';
import { ensureWasmFile } from './wasm-build.ts';
import { calibWasmUrl } from '../kernels/calib/wasm/calib-wasm-url.ts';
import { loadCalibWasm, type WasmCalibKernel } from '../kernels/calib/wasm/calib-wasm.ts';
import { pruneWasmUrl } from '../kernels/prune/wasm/prune-wasm-url.ts';
import { loadPruneWasm, type WasmPruneKernel } from '../kernels/prune/wasm/prune-wasm.ts';
import { quantizeWasmUrl } from '../kernels/quantize/wasm/quantize-wasm-url.ts';
import { loadQuantizeWasm, type WasmRtnKernel } from '../kernels/quantize/wasm/quantize-wasm.ts';

/** A built kernel (scripts/build-wasm.ts) as bytes, read from disk (Node only). */
export async function readKernelWasm(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  const path = fileURLToPath(url);
  ensureWasmFile(path); // a fresh clone after `npm ci`: built on first use
  try {
    const bytes = await readFile(path);
    return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    throw fsError(e, path, 'the built kernel', 'bad_file');
  }
}

/** The built quantize.wasm as bytes. */
export const readQuantizeWasm = () => readKernelWasm(quantizeWasmUrl);

/** The WASM SIMD quantizer, loaded from the built file. */
export async function loadQuantizeWasmNode(): Promise<WasmRtnKernel> {
  return loadQuantizeWasm(await readQuantizeWasm());
}

/** The WASM SIMD pruning kernel, loaded from the built file. */
export async function loadPruneWasmNode(): Promise<WasmPruneKernel> {
  return loadPruneWasm(await readKernelWasm(pruneWasmUrl));
}

/** The built calib.wasm as bytes. */
export const readCalibWasm = () => readKernelWasm(calibWasmUrl);

/** The WASM SIMD calibration kernel (block forward, Gram matrices, GPTQ), loaded from the built file. */
export async function loadCalibWasmNode(): Promise<WasmCalibKernel> {
  return loadCalibWasm(await readCalibWasm());
}

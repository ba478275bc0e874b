import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ShrinkrayError } from '../errors.ts';
import { quantizeWasmUrl } from '../kernels/quantize/wasm/quantize-wasm-url.ts';
import { loadQuantizeWasm, type WasmRtnKernel } from '../kernels/quantize/wasm/quantize-wasm.ts';

/** The built quantize.wasm as bytes, read from disk (Node only). */
export async function readQuantizeWasm(): Promise<Uint8Array<ArrayBuffer>> {
  const path = fileURLToPath(quantizeWasmUrl);
  try {
    const bytes = await readFile(path);
    return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    throw new ShrinkrayError('missing_file', `${path} is missing: run 'npm run build:wasm' first`, { cause: e });
  }
}

/** The WASM SIMD quantizer, loaded from the built file. */
export async function loadQuantizeWasmNode(): Promise<WasmRtnKernel> {
  return loadQuantizeWasm(await readQuantizeWasm());
}

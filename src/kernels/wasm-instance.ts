import { ShrinkrayError } from '../errors.ts';

/**
 * What the WASM SIMD kernels (quantize.wasm, prune.wasm) share: instantiating a module that
 * imports nothing, and laying out and growing its linear memory. Each kernel keeps its own
 * exports and its own memory layout; `file` names the module in error messages.
 */

/** The module's bytes or a compiled module, so kernels stay free of node:fs and fetch details. */
export type WasmSource = BufferSource | WebAssembly.Module;

const PAGE = 65536;

export async function instantiateKernel<Exports>(source: WasmSource, file: string): Promise<Exports> {
  let instance: WebAssembly.Instance;
  try {
    const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
    instance = await WebAssembly.instantiate(module, {});
  } catch (e) {
    throw new ShrinkrayError('runtime_error', `${file}: could not instantiate (is WASM SIMD supported?): ${String(e)}`, { cause: e });
  }
  return instance.exports as unknown as Exports;
}

/** Grows `memory` by whole pages until it holds at least `bytes`. */
export function ensureMemory(memory: WebAssembly.Memory, bytes: number, file: string): void {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return;
  try {
    memory.grow(Math.ceil((bytes - have) / PAGE));
  } catch (e) {
    throw new ShrinkrayError('runtime_error', `${file}: could not grow memory to ${bytes} bytes`, { cause: e });
  }
}

/** Rounds a byte offset up to a multiple of 16 (a v128's alignment). */
export function align16(x: number): number {
  return (x + 15) & ~15;
}

/**
 * Whether `buffer` is shared memory. Not `instanceof SharedArrayBuffer` alone: a page that is not
 * cross-origin isolated has no such global, and naming it throws a ReferenceError.
 */
export function isSharedBuffer(buffer: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer;
}

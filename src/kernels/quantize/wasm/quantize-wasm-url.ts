/**
 * Where the built quantizer lives (scripts/build-wasm.ts writes it). Bundlers turn this
 * `new URL(..., import.meta.url)` into a served asset; in Node it is a file: URL that
 * src/node/kernel-wasm-node.ts reads.
 */
export const quantizeWasmUrl = new URL('./build/quantize.wasm', import.meta.url);

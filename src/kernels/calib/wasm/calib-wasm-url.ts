/**
 * Where the built calibration kernel lives (scripts/build-wasm.ts writes it). Bundlers turn
 * this `new URL(..., import.meta.url)` into a served asset; in Node it is a file: URL that
 * src/node/kernel-wasm-node.ts reads.
 */
export const calibWasmUrl = new URL('./build/calib.wasm', import.meta.url);

/**
 * Where the built pruning kernel lives (built from ./assembly/prune.ts by asc, see
 * prune-wasm.ts). Bundlers turn this `new URL(..., import.meta.url)` into a served asset;
 * in Node it is a file: URL to read.
 */
export const pruneWasmUrl = new URL('./build/prune.wasm', import.meta.url);

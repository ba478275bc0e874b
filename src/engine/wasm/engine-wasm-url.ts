/**
 * Where the built engine modules live (scripts/build-wasm.ts writes them): plain or relaxed
 * SIMD, with a private or a shared memory. Bundlers turn each `new URL(..., import.meta.url)`
 * into a served asset; in Node they are file: URLs that src/node/engine-node.ts reads.
 */
export const ENGINE_WASM_URLS = Object.freeze({
  'plain-single': new URL('./build/engine-plain-single.wasm', import.meta.url),
  'plain-shared': new URL('./build/engine-plain-shared.wasm', import.meta.url),
  'relaxed-single': new URL('./build/engine-relaxed-single.wasm', import.meta.url),
  'relaxed-shared': new URL('./build/engine-relaxed-shared.wasm', import.meta.url),
});

export type EngineWasmVariant = keyof typeof ENGINE_WASM_URLS;

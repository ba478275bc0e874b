// @ts-nocheck -- AssemblyScript (compiled by scripts/build-wasm.ts), not TypeScript.
//
// The CPU engine's kernels (src/engine/): one module, built four ways by scripts/build-wasm.ts
// (plain or relaxed SIMD, private or shared memory for threads). Memory is imported and
// managed by the JS side (src/engine/heap.ts); nothing here allocates or keeps static data,
// so every thread's instance can share one memory.
export { quantizeActs } from './acts';
export { nbitsGemm } from './nbits';
import { XB } from './nbits';
export { denseGemm } from './dense';
export { attention } from './attention';
export { rmsNorm, rope, addInPlace, siluMul, geluTanhMul, embedDense, embedNBits, storeKV } from './elementwise';
export { setTaskBlock, runTask } from './tasks';

export function heapBase(): usize {
  return __heap_base;
}

/** 1 in the relaxed-SIMD build. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/** Bytes per quantized activation in this build (acts.ts): 1 (i8, relaxed) or 2 (i16, plain). */
export function actBytes(): i32 {
  return <i32>XB;
}

/**
 * Bit widths onnxruntime-web 1.30 runs for `com.microsoft.MatMulNBits`, measured on our packing
 * (test/node/quantize-ort-layout.test.ts, test/browser/quantize-kernels.test.ts,
 * test/browser/quantize-ort-webgpu.test.ts):
 *
 *   EP / bundle                                        2   4   8   3, 5, 6, 7
 *   wasm (CPU kernel), any bundle, Node and browser    yes yes yes refused at session creation
 *   webgpu, default 'onnxruntime-web' bundle (JSEP)    yes yes no  refused
 *   webgpu, 'onnxruntime-web/webgpu' (native EP)       yes yes yes (not tried: the wasm kernel refuses them)
 *
 * Widths 5-7 are refused rather than emitted as a model the runtime cannot load. 3-bit codes
 * (0-7, with a zero point) are stored in the 4-bit container (nbits-codes.ts): they run
 * everywhere int4 does and show 3-bit quality, at int4-asym's size.
 */
export const ORT_WEB_MATMUL_NBITS_BITS: readonly number[] = Object.freeze([2, 4, 8]);

/** Widths the default bundle's JSEP WebGPU EP runs ("Only 2b and 4b quantization is supported"). */
export const ORT_WEB_JSEP_WEBGPU_MATMUL_NBITS_BITS: readonly number[] = Object.freeze([2, 4]);

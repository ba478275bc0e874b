/**
 * Bit widths onnxruntime-web 1.30's MatMulNBits CPU kernel (the wasm EP) accepts. Measured in
 * test/node/quantize-ort-layout.test.ts: 3, 5, 6 and 7 bits fail at session creation with
 * "Only 2b, 4b and 8b quantization is supported for MatMulNBits op". The quantizers refuse
 * other widths rather than emit a model the runtime cannot load; a 3-bit code stored in a
 * 4-bit container would cost int4's size for worse than int4's quality, so no fallback.
 */
export const ORT_WEB_MATMUL_NBITS_BITS: readonly number[] = Object.freeze([2, 4, 8]);

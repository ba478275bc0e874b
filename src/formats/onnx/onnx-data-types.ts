/**
 * Sizes of the ONNX element types (TensorProto.DataType, onnx/onnx.proto), for checking an
 * external initializer's length against its type and shape before a byte of it is read.
 * Bits per element: the 4-bit types pack two elements per byte, rounded up per tensor.
 */
const BITS_PER_ELEMENT: Readonly<Record<number, number>> = Object.freeze({
  1: 32, // FLOAT
  2: 8, // UINT8
  3: 8, // INT8
  4: 16, // UINT16
  5: 16, // INT16
  6: 32, // INT32
  7: 64, // INT64
  9: 8, // BOOL
  10: 16, // FLOAT16
  11: 64, // DOUBLE
  12: 32, // UINT32
  13: 64, // UINT64
  14: 64, // COMPLEX64
  15: 128, // COMPLEX128
  16: 16, // BFLOAT16
  17: 8, // FLOAT8E4M3FN
  18: 8, // FLOAT8E4M3FNUZ
  19: 8, // FLOAT8E5M2
  20: 8, // FLOAT8E5M2FNUZ
  21: 4, // UINT4
  22: 4, // INT4
  23: 4, // FLOAT4E2M1
});

/** Bytes a tensor of `dataType` and `dims` occupies, or undefined for a type of no fixed size (STRING) or an unknown one. */
export function externalTensorBytes(dataType: number, dims: readonly number[]): number | undefined {
  const bits = BITS_PER_ELEMENT[dataType];
  if (bits === undefined) return undefined;
  const elements = dims.reduce((a, b) => a * b, 1);
  return Math.ceil((elements * bits) / 8);
}

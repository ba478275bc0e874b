/**
 * The `com.microsoft.MatMulNBits` weight layout (onnxruntime contrib op):
 *
 *   B           uint8 [N, kBlocks, blobSize]      kBlocks = ceil(K / blockSize), blobSize = blockSize * bits / 8
 *   scales      T     [N, kBlocks] (flat N*kBlocks) T = f32, or f16 when the op's T is fp16
 *   zero_points uint8 [N, ceil(kBlocks * bits / 8)] optional; default 2^(bits-1)
 *
 * Codes are a bit stream along K inside each block, lowest bits first: code j of a block
 * occupies bits [j*bits, (j+1)*bits) of its blob, counting from bit 0 of byte 0. For 4 bits
 * that is "element 2i in the low nibble of byte i, 2i+1 in the high nibble"; for 2 bits four
 * codes per byte from the low end; for 8 bits one byte each; 3, 5, 6 and 7 bits straddle
 * bytes. Zero points use the same bit stream, one per block, per row, each row padded to a
 * whole byte. When K is not a multiple of blockSize the last block is padded: its codes past
 * K hold the block's zero point, so they dequantize to exactly 0 (the runtime ignores them).
 */

/** Bytes of one block's codes. blockSize >= 16 makes it whole for every width 2..8. */
export function blobBytes(blockSize: number, bits: number): number {
  return (blockSize * bits) / 8;
}

/** Bytes of one row of packed zero points. */
export function zeroPointRowBytes(kBlocks: number, bits: number): number {
  return Math.ceil((kBlocks * bits) / 8);
}

/** Writes `code` (< 2^bits) at bit offset `bit` of `out`, OR-ing into bytes assumed zeroed. */
export function writeBits(out: Uint8Array, bit: number, bits: number, code: number): void {
  let byte = bit >>> 3;
  const shift = bit & 7;
  out[byte] |= (code << shift) & 0xff;
  let written = 8 - shift;
  while (written < bits) {
    byte++;
    out[byte] |= (code >>> written) & 0xff;
    written += 8;
  }
}

/** Reads the `bits`-wide code at bit offset `bit` of `data`. */
export function readBits(data: Uint8Array, bit: number, bits: number): number {
  const byte = bit >>> 3;
  const shift = bit & 7;
  // Two bytes always cover a code of <= 8 bits; the second may lie past the end for the last code.
  const word = data[byte] | ((byte + 1 < data.length ? data[byte + 1] : 0) << 8);
  return (word >>> shift) & ((1 << bits) - 1);
}

/** Packs codes [rows, cols] (one per element, each < 2^bits) into [rows, ceil(cols*bits/8)] bytes. */
export function packRows(codes: Uint8Array, rows: number, cols: number, bits: number): Uint8Array {
  const rowBytes = Math.ceil((cols * bits) / 8);
  const out = new Uint8Array(rows * rowBytes);
  for (let r = 0; r < rows; r++) {
    const base = r * rowBytes * 8;
    for (let c = 0; c < cols; c++) writeBits(out, base + c * bits, bits, codes[r * cols + c]);
  }
  return out;
}

/** Inverse of packRows: [rows, ceil(cols*bits/8)] bytes -> codes [rows, cols]. */
export function unpackRows(data: Uint8Array, rows: number, cols: number, bits: number): Uint8Array {
  const rowBytes = Math.ceil((cols * bits) / 8);
  const out = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * rowBytes * 8;
    for (let c = 0; c < cols; c++) out[r * cols + c] = readBits(data, base + c * bits, bits);
  }
  return out;
}

/**
 * Codes [N, kBlocks*blockSize] (padded K) -> B [N, kBlocks, blobSize]. Because blobSize is a
 * whole number of bytes, B is exactly the codes of each padded row packed as one bit stream.
 */
export function packCodes(codes: Uint8Array, N: number, kBlocks: number, blockSize: number, bits: number): Uint8Array {
  return packRows(codes, N, kBlocks * blockSize, bits);
}

/** B [N, kBlocks, blobSize] -> codes [N, kBlocks*blockSize] (padded K). */
export function unpackCodes(packed: Uint8Array, N: number, kBlocks: number, blockSize: number, bits: number): Uint8Array {
  return unpackRows(packed, N, kBlocks * blockSize, bits);
}

/** Zero points [N, kBlocks] -> packed [N, ceil(kBlocks*bits/8)]. */
export function packZeroPoints(zeros: Uint8Array, N: number, kBlocks: number, bits: number): Uint8Array {
  return packRows(zeros, N, kBlocks, bits);
}

/** Packed zero points [N, ceil(kBlocks*bits/8)] -> [N, kBlocks]. */
export function unpackZeroPoints(packed: Uint8Array, N: number, kBlocks: number, bits: number): Uint8Array {
  return unpackRows(packed, N, kBlocks, bits);
}

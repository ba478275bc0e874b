import { blobBytes, zeroPointRowBytes } from '../matmul-nbits-layout.ts';
import { badBlockError, blockCount, validateRtn, type RtnOptions, type RtnResult } from '../rtn-options.ts';
import { align16, ensureMemory, instantiateKernel, type WasmSource } from '../../wasm-instance.ts';

/**
 * Loader for the WASM SIMD quantizer (./assembly/quantize.ts). It takes the
 * module's bytes or a compiled module, so kernels stay free of node:fs and fetch details:
 * the browser passes `await (await fetch(quantizeWasmUrl)).arrayBuffer()` (or a compiled
 * module), Node reads the file in src/node/. Work goes through wasm memory in chunks of
 * whole rows, so memory stays bounded whatever the tensor size.
 */

interface QuantizeExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  lastErrorKind(): number;
  quantize(
    w: number,
    rows: number,
    K: number,
    bits: number,
    blockSize: number,
    symmetric: number,
    f16: number,
    packed: number,
    scales: number,
    zps: number,
  ): number;
}

/** Weights copied into wasm memory per call: small enough to stay in L2 while quantized. */
const CHUNK_BYTES = 1 << 19;

export type { WasmSource };

export interface WasmRtnKernel {
  /** Same contract as quantizeRtnReference; codes and scales are bit-identical to it. */
  quantizeRtn(weight: Float32Array, N: number, K: number, opts: RtnOptions): RtnResult;
}

export async function loadQuantizeWasm(source: WasmSource): Promise<WasmRtnKernel> {
  return new WasmQuantizer(await instantiateKernel<QuantizeExports>(source, 'quantize.wasm'));
}

class WasmQuantizer implements WasmRtnKernel {
  private readonly base: number;
  constructor(private readonly wasm: QuantizeExports) {
    this.base = align16(wasm.heapBase());
  }

  quantizeRtn(weight: Float32Array, N: number, K: number, opts: RtnOptions): RtnResult {
    validateRtn(weight, N, K, opts);
    const { bits, blockSize, symmetric } = opts;
    const kBlocks = blockCount(K, blockSize);
    const rowPacked = kBlocks * blobBytes(blockSize, bits); // bytes of B per row
    const scaleBytes = opts.scaleDtype === 'f16' ? 2 : 4;
    const zpRow = zeroPointRowBytes(kBlocks, bits);
    const packed = new Uint8Array(N * rowPacked); // [N, kBlocks, blob]
    const scales = scaleBytes === 2 ? new Uint16Array(N * kBlocks) : new Float32Array(N * kBlocks); // [N, kBlocks]
    const zeroPoints = symmetric ? null : new Uint8Array(N * zpRow); // [N, zpRow]

    const rowsPerChunk = Math.max(1, Math.min(N, Math.floor(CHUNK_BYTES / (K * 4))));
    // wasm memory: [weights f32 rows*K | packed | scales | zero points], each 16-byte aligned
    const wPtr = this.base;
    const packedPtr = align16(wPtr + rowsPerChunk * K * 4);
    const scalesPtr = align16(packedPtr + rowsPerChunk * rowPacked);
    const zpPtr = align16(scalesPtr + rowsPerChunk * kBlocks * scaleBytes);
    ensureMemory(this.wasm.memory, zpPtr + rowsPerChunk * zpRow, 'quantize.wasm');
    const buffer = this.wasm.memory.buffer;
    const heapF32 = new Float32Array(buffer);
    const heapU8 = new Uint8Array(buffer);

    for (let r0 = 0; r0 < N; r0 += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, N - r0);
      heapF32.set(weight.subarray(r0 * K, (r0 + rows) * K), wPtr >>> 2);
      const bad = this.wasm.quantize(
        wPtr,
        rows,
        K,
        bits,
        blockSize,
        symmetric ? 1 : 0,
        scaleBytes === 2 ? 1 : 0,
        packedPtr,
        scalesPtr,
        zpPtr,
      );
      if (bad >= 0) throw badBlockError(weight, K, opts, r0 + Math.floor(bad / kBlocks), bad % kBlocks);
      packed.set(heapU8.subarray(packedPtr, packedPtr + rows * rowPacked), r0 * rowPacked);
      const scaleOut = new Uint8Array(scales.buffer, r0 * kBlocks * scaleBytes, rows * kBlocks * scaleBytes);
      scaleOut.set(heapU8.subarray(scalesPtr, scalesPtr + scaleOut.length));
      zeroPoints?.set(heapU8.subarray(zpPtr, zpPtr + rows * zpRow), r0 * zpRow);
    }
    return { packed, scales, zeroPoints };
  }
}

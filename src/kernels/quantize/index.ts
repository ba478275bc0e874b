import { ShrinkrayError } from '../../errors.ts';
import type { QuantizePool } from './wasm/quantize-pool.ts';
import { loadQuantizeWasm, type WasmRtnKernel, type WasmSource } from './wasm/quantize-wasm.ts';
import { quantizeRtnWebGpu } from './webgpu/rtn-quantize.ts';
import type { RtnOptions, RtnResult } from './rtn-options.ts';
import { quantizeRtnReference } from './rtn-reference.ts';

export { dequantizeNBits, type DequantizeOptions } from './dequantize.ts';
export { blobBytes, packZeroPoints, unpackCodes, unpackZeroPoints, zeroPointRowBytes } from './matmul-nbits-layout.ts';
export { relativeFrobeniusError } from './quantize-error.ts';
export { BLOCK_SIZES, blockCount, validateRtn, type RtnOptions, type RtnQuantize, type RtnResult } from './rtn-options.ts';
export { quantizeRtnReference } from './rtn-reference.ts';
export { ORT_WEB_JSEP_WEBGPU_MATMUL_NBITS_BITS, ORT_WEB_MATMUL_NBITS_BITS } from './runtime-support.ts';
export { floatToHalf, halfToFloat } from '../half.ts';

/**
 * Picks an RTN implementation. All of them give bit-identical output, so the choice is only
 * about speed: a worker pool of the WASM SIMD kernel where one is given, else the WASM
 * kernel on this thread, else the scalar reference (no WASM SIMD). WebGPU only when asked
 * for: the work is memory-bound, so uploads and readbacks outweigh the GPU's arithmetic.
 */
export type RtnBackend = 'reference' | 'wasm' | 'wasm-pool' | 'webgpu';

export interface RtnQuantizer {
  readonly backend: RtnBackend;
  quantizeRtn(weight: Float32Array, N: number, K: number, opts: RtnOptions): Promise<RtnResult>;
}

export interface RtnQuantizerChoice {
  prefer?: RtnBackend; // force one backend; its ingredient below must be given
  wasm?: WasmSource | WasmRtnKernel; // quantize.wasm bytes or module (see quantize-wasm-url.ts), or a loaded kernel
  pool?: QuantizePool; // from createQuantizePoolBrowser / createQuantizePoolNode
  device?: GPUDevice; // a WebGPU device
}

export async function createRtnQuantizer(choice: RtnQuantizerChoice = {}): Promise<RtnQuantizer> {
  const { prefer, pool, device } = choice;
  const missing = (what: string) => new ShrinkrayError('bad_argument', `RTN backend '${prefer}' needs ${what}`);
  if (prefer === 'webgpu') {
    if (!device) throw missing('a WebGPU device');
    return { backend: 'webgpu', quantizeRtn: (w, N, K, o) => quantizeRtnWebGpu(device, w, N, K, o) };
  }
  if (prefer === 'wasm-pool' || (!prefer && pool)) {
    if (!pool) throw missing('a worker pool');
    return { backend: 'wasm-pool', quantizeRtn: (w, N, K, o) => pool.quantizeRtn(w, N, K, o) };
  }
  if (prefer === 'wasm' || (!prefer && choice.wasm)) {
    if (!choice.wasm) throw missing('quantize.wasm');
    let kernel: WasmRtnKernel | null = null;
    try {
      kernel = 'quantizeRtn' in choice.wasm ? choice.wasm : await loadQuantizeWasm(choice.wasm);
    } catch (e) {
      if (prefer === 'wasm') throw e; // asked for explicitly: say why it failed
    }
    if (kernel) {
      const k = kernel;
      return { backend: 'wasm', quantizeRtn: async (w, N, K, o) => k.quantizeRtn(w, N, K, o) };
    }
  }
  return { backend: 'reference', quantizeRtn: async (w, N, K, o) => quantizeRtnReference(w, N, K, o) };
}

import { ShrinkrayError } from '../../../errors.ts';
import { checkMatrix, checkSparsity, prunedCount, type UnstructuredOptions } from '../magnitude.ts';
import { checkNm, type NmOptions } from '../n-m.ts';
import { align16, ensureMemory, instantiateKernel, type WasmSource } from '../../wasm-instance.ts';

/**
 * Loader for the WASM SIMD pruning kernel (./assembly/prune.ts). Same signatures and the
 * same masks, bit for bit, as the TypeScript kernels in magnitude.ts and n-m.ts.
 * It takes the module's bytes or a compiled module so the kernel stays free of node:fs and
 * fetch details. Build:
 *   node node_modules/assemblyscript/bin/asc.js src/kernels/prune/wasm/assembly/prune.ts \
 *     --outFile src/kernels/prune/wasm/build/prune.wasm --enable simd -O3 --noAssert --runtime stub
 * Row scope and N:M go through wasm memory in chunks of whole rows; tensor scope needs the
 * whole tensor at once (5 bytes per weight: the scores, turned into keys in place, and the mask).
 */

interface PruneExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  fillKeys(scores: number, keys: number, len: number, abs: number): number;
  maskLowest(keys: number, len: number, count: number, mask: number, hist: number): void;
  maskRows(scores: number, rows: number, K: number, count: number, abs: number, mask: number, hist: number): number;
  maskNm(scores: number, total: number, n: number, m: number, abs: number, mask: number): number;
}

export type { WasmSource };

export interface WasmPruneKernel {
  scoreMask(scores: Float32Array, N: number, K: number, opts: UnstructuredOptions, what?: string): Uint8Array;
  magnitudeMask(weight: Float32Array, N: number, K: number, opts: UnstructuredOptions, what?: string): Uint8Array;
  nmScoreMask(scores: Float32Array, N: number, K: number, opts: NmOptions, what?: string): Uint8Array;
  nmMask(weight: Float32Array, N: number, K: number, opts: NmOptions, what?: string): Uint8Array;
}

/** Scores copied into wasm memory per call for row-wise work: about L2-sized. */
const CHUNK_BYTES = 1 << 20;
const HIST_BYTES = 1024; // 256 u32

export async function loadPruneWasm(source: WasmSource): Promise<WasmPruneKernel> {
  return new WasmPruner(await instantiateKernel<PruneExports>(source, 'prune.wasm'));
}

class WasmPruner implements WasmPruneKernel {
  private readonly base: number;
  constructor(private readonly wasm: PruneExports) {
    this.base = align16(wasm.heapBase());
  }

  scoreMask(scores: Float32Array, N: number, K: number, opts: UnstructuredOptions, what = 'scores'): Uint8Array {
    return this.unstructured(scores, N, K, opts, what, 0);
  }

  magnitudeMask(weight: Float32Array, N: number, K: number, opts: UnstructuredOptions, what = 'weight'): Uint8Array {
    return this.unstructured(weight, N, K, opts, what, 1);
  }

  nmScoreMask(scores: Float32Array, N: number, K: number, opts: NmOptions, what = 'scores'): Uint8Array {
    return this.nm(scores, N, K, opts, what, 0);
  }

  nmMask(weight: Float32Array, N: number, K: number, opts: NmOptions, what = 'weight'): Uint8Array {
    return this.nm(weight, N, K, opts, what, 1);
  }

  private unstructured(data: Float32Array, N: number, K: number, opts: UnstructuredOptions, what: string, abs: number): Uint8Array {
    checkMatrix(data, N, K, what);
    checkSparsity(opts.sparsity);
    if (opts.scope !== 'row' && opts.scope !== 'tensor') {
      throw new ShrinkrayError('bad_argument', `scope must be 'row' or 'tensor', got '${String(opts.scope)}'`);
    }
    const mask = new Uint8Array(N * K);
    // A tensor-scope mask is one row of N*K.
    const [rows, width] = opts.scope === 'row' ? [N, K] : [1, N * K];
    const count = prunedCount(width, opts.sparsity);
    this.chunked(data, rows, width, mask, what, (scoresPtr, n, maskPtr, histPtr) =>
      this.wasm.maskRows(scoresPtr, n, width, count, abs, maskPtr, histPtr),
    );
    return mask;
  }

  private nm(data: Float32Array, N: number, K: number, opts: NmOptions, what: string, abs: number): Uint8Array {
    checkMatrix(data, N, K, what);
    checkNm(K, opts, what);
    const mask = new Uint8Array(N * K);
    this.chunked(data, N, K, mask, what, (scoresPtr, n, maskPtr) => this.wasm.maskNm(scoresPtr, n * K, opts.n, opts.m, abs, maskPtr));
    return mask;
  }

  /** Runs `call` over chunks of whole rows; `call` returns the first NaN index in its chunk or -1. */
  private chunked(
    data: Float32Array,
    rows: number,
    width: number,
    mask: Uint8Array,
    what: string,
    call: (scoresPtr: number, rows: number, maskPtr: number, histPtr: number) => number,
  ): void {
    const rowsPerChunk = Math.max(1, Math.min(rows, Math.floor(CHUNK_BYTES / (width * 4))));
    // wasm memory: [scores f32 rows*width (keys in place) | mask u8 rows*width | hist 256 u32]
    const scoresPtr = this.base;
    const maskPtr = align16(scoresPtr + rowsPerChunk * width * 4);
    const histPtr = align16(maskPtr + rowsPerChunk * width);
    ensureMemory(this.wasm.memory, histPtr + HIST_BYTES, 'prune.wasm');
    const heapF32 = new Float32Array(this.wasm.memory.buffer);
    const heapU8 = new Uint8Array(this.wasm.memory.buffer);
    for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows - r0);
      heapF32.set(data.subarray(r0 * width, (r0 + n) * width), scoresPtr >>> 2);
      const bad = call(scoresPtr, n, maskPtr, histPtr);
      if (bad >= 0) {
        throw new ShrinkrayError('bad_argument', `${what}: score at index ${r0 * width + bad} is NaN; pruning needs finite scores`);
      }
      mask.set(heapU8.subarray(maskPtr, maskPtr + n * width), r0 * width);
    }
  }
}

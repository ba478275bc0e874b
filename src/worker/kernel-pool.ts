import { createPruner, type Pruner } from '../kernels/prune/index.ts';
import { pruneWasmUrl } from '../kernels/prune/wasm/prune-wasm-url.ts';
import { createRtnQuantizer, type RtnQuantizer } from '../kernels/quantize/index.ts';
import { createQuantizePoolBrowser } from '../kernels/quantize/wasm/quantize-pool-browser.ts';
import { quantizeWasmUrl } from '../kernels/quantize/wasm/quantize-wasm-url.ts';
import type { QuantizePool } from '../kernels/quantize/wasm/quantize-pool.ts';
import { nestedPoolsAllowed } from './nested-pools.ts';

/**
 * The compress worker's kernels. Quantization: one WASM SIMD quantize worker per core
 * (navigator.hardwareConcurrency), started at the first compression and kept for the
 * next. Where nested workers cannot start, the kernel runs on the compress worker itself;
 * all backends give bit-identical output, so this only changes speed.
 */
let quantizer: Promise<RtnQuantizer> | undefined;
let pool: QuantizePool | undefined;

export function poolSize(): number {
  return Math.max(1, navigator.hardwareConcurrency || 2);
}

export function kernelQuantizer(): Promise<RtnQuantizer> {
  quantizer ??= (async () => {
    if (nestedPoolsAllowed()) {
      try {
        pool = await createQuantizePoolBrowser(poolSize());
        return await createRtnQuantizer({ pool });
      } catch (e) {
        console.warn('shrinkray: quantize worker pool unavailable, quantizing on the compress worker', e);
      }
    }
    const wasm = await WebAssembly.compileStreaming(fetch(quantizeWasmUrl));
    return createRtnQuantizer({ wasm });
  })();
  quantizer.catch(() => {
    quantizer = undefined;
  });
  return quantizer;
}

let pruner: Promise<Pruner> | undefined;

/** The WASM SIMD pruning kernel on the compress worker (masks are quick next to quantization: no pool). */
export function kernelPruner(): Promise<Pruner> {
  pruner ??= (async () => {
    try {
      return await createPruner({ wasm: await WebAssembly.compileStreaming(fetch(pruneWasmUrl)) });
    } catch (e) {
      console.warn('shrinkray: prune.wasm unavailable, pruning with the scalar reference', e);
      return createPruner();
    }
  })();
  return pruner;
}

/** Stops the kernel workers (a later compression starts them again). */
export function closeKernelPool(): void {
  pool?.close();
  pool = undefined;
  quantizer = undefined;
}

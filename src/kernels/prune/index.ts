import { ShrinkrayError } from '../../errors.ts';
import { magnitudeMask, scoreMask, type UnstructuredOptions } from './magnitude.ts';
import { nmMask, nmScoreMask, type NmOptions } from './n-m.ts';
import { loadPruneWasm, type WasmPruneKernel, type WasmSource } from './wasm/prune-wasm.ts';
import { createWebGpuPruner } from './webgpu/prune-webgpu.ts';

export {
  applyMask,
  magnitudeMask,
  magnitudeScores,
  maskSparsity,
  scoreMask,
  type PruneScope,
  type UnstructuredOptions,
} from './magnitude.ts';
export { nmMask, nmScoreMask, satisfiesNm, type NmOptions } from './n-m.ts';

/**
 * Picks a pruning-mask implementation, as createRtnQuantizer does for quantization. All of
 * them give bit-identical masks, so the choice is only about speed: WebGPU when a device is
 * given, the WASM SIMD kernel when its module is, else the scalar reference.
 */
export type PruneBackend = 'reference' | 'wasm' | 'webgpu';

/** Masks (1 = keep) for weights or scores [N, K]; `what` names the tensor in errors. */
export interface Pruner {
  readonly backend: PruneBackend;
  magnitudeMask(weight: Float32Array, N: number, K: number, opts: UnstructuredOptions, what?: string): Promise<Uint8Array>;
  scoreMask(scores: Float32Array, N: number, K: number, opts: UnstructuredOptions, what?: string): Promise<Uint8Array>;
  nmMask(weight: Float32Array, N: number, K: number, opts: NmOptions, what?: string): Promise<Uint8Array>;
  nmScoreMask(scores: Float32Array, N: number, K: number, opts: NmOptions, what?: string): Promise<Uint8Array>;
}

export interface PrunerChoice {
  prefer?: PruneBackend; // force one backend; its ingredient below must be given
  wasm?: WasmSource | WasmPruneKernel; // prune.wasm bytes or module (see prune-wasm-url.ts), or a loaded kernel
  device?: GPUDevice;
}

export async function createPruner(choice: PrunerChoice = {}): Promise<Pruner> {
  const { prefer, device } = choice;
  const missing = (what: string) => new ShrinkrayError('bad_argument', `pruning backend '${prefer}' needs ${what}`);
  if (prefer === 'webgpu' || (!prefer && device)) {
    if (!device) throw missing('a WebGPU device');
    return { backend: 'webgpu', ...(await createWebGpuPruner(device)) };
  }
  if (prefer === 'wasm' || (!prefer && choice.wasm)) {
    if (!choice.wasm) throw missing('prune.wasm');
    let kernel: WasmPruneKernel | null = null;
    try {
      kernel = 'magnitudeMask' in choice.wasm ? choice.wasm : await loadPruneWasm(choice.wasm);
    } catch (e) {
      if (prefer === 'wasm') throw e; // asked for explicitly: say why it failed
    }
    if (kernel) return synchronous('wasm', kernel);
  }
  return synchronous('reference', { magnitudeMask, scoreMask, nmMask, nmScoreMask });
}

function synchronous(backend: PruneBackend, k: WasmPruneKernel): Pruner {
  return {
    backend,
    magnitudeMask: async (...a) => k.magnitudeMask(...a),
    scoreMask: async (...a) => k.scoreMask(...a),
    nmMask: async (...a) => k.nmMask(...a),
    nmScoreMask: async (...a) => k.nmScoreMask(...a),
  };
}

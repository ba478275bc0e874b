import { ShrinkrayError } from '../../../errors.ts';
import { checkMatrix, checkSparsity, prunedCount, type UnstructuredOptions } from '../magnitude.ts';
import { checkNm, type NmOptions } from '../n-m.ts';
import { NM_WGSL, ROW_SELECT_WGSL } from './prune-wgsl.ts';

/**
 * WebGPU pruning masks: the same arguments and the same masks, bit for bit, as
 * magnitude.ts / n-m.ts, but asynchronous (results come back through a mapped buffer).
 * Row scope and N:M are dispatched in chunks of whole rows that fit one storage binding;
 * tensor scope is one workgroup over the whole tensor, so it must fit one binding.
 */

const MAX_GROUPS_X = 65535;

export interface WebGpuPruneKernel {
  scoreMask(scores: Float32Array, N: number, K: number, opts: UnstructuredOptions, what?: string): Promise<Uint8Array>;
  magnitudeMask(weight: Float32Array, N: number, K: number, opts: UnstructuredOptions, what?: string): Promise<Uint8Array>;
  nmScoreMask(scores: Float32Array, N: number, K: number, opts: NmOptions, what?: string): Promise<Uint8Array>;
  nmMask(weight: Float32Array, N: number, K: number, opts: NmOptions, what?: string): Promise<Uint8Array>;
}

export interface WebGpuPruneOptions {
  maxChunkBytes?: number; // cap on the scores bound per dispatch (tests use it to force chunking)
}

/** Compiles the two pipelines; a shader the device refuses is a runtime_error, not silent zeros. */
export async function createWebGpuPruner(device: GPUDevice, opts: WebGpuPruneOptions = {}): Promise<WebGpuPruneKernel> {
  const pipeline = async (code: string, name: string) => {
    device.pushErrorScope('validation');
    const p = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
    });
    const error = await device.popErrorScope();
    if (error) throw new ShrinkrayError('runtime_error', `WebGPU refused the ${name} pruning shader: ${error.message}`);
    return p;
  };
  const rowSelect = await pipeline(ROW_SELECT_WGSL, 'row-select');
  const nmPipeline = await pipeline(NM_WGSL, 'N:M');
  const maxBytes = Math.min(device.limits.maxStorageBufferBindingSize, opts.maxChunkBytes ?? 1 << 28);

  /** Runs `pipe` over chunks of whole rows; `params(rows)` gives the uniform and the workgroup count. */
  async function run(
    data: Float32Array,
    rows: number,
    width: number,
    what: string,
    pipe: GPUComputePipeline,
    params: (rows: number) => { uniform: Uint32Array<ArrayBuffer>; workgroups: number },
  ): Promise<Uint8Array> {
    throwOnNaN(data, what);
    const rowsPerChunk = Math.floor(maxBytes / (width * 4));
    if (rowsPerChunk < 1) {
      throw new ShrinkrayError(
        'bad_argument',
        `${what}: a scope of ${width} values (${width * 4} bytes) exceeds the GPU's storage binding limit of ${maxBytes} bytes`,
      );
    }
    const chunkRows = Math.min(rows, rowsPerChunk);
    const bytes = chunkRows * width * 4;
    const scoresBuf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const maskBuf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const readBuf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const uniformBuf = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const group = device.createBindGroup({
      layout: pipe.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: scoresBuf } },
        { binding: 1, resource: { buffer: maskBuf } },
        { binding: 2, resource: { buffer: uniformBuf } },
      ],
    });
    const mask = new Uint8Array(rows * width);
    try {
      for (let r0 = 0; r0 < rows; r0 += chunkRows) {
        const n = Math.min(chunkRows, rows - r0);
        const { uniform, workgroups } = params(n);
        const x = Math.min(workgroups, MAX_GROUPS_X);
        uniform[4] = x; // groupsX: how the shader turns (x, y) back into one index
        device.queue.writeBuffer(uniformBuf, 0, uniform);
        // The spec's writeBuffer takes views of shared memory too; @webgpu/types admits only ArrayBuffer views.
        device.queue.writeBuffer(scoresBuf, 0, data.subarray(r0 * width, (r0 + n) * width) as GPUAllowSharedBufferSource);
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipe);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(x, Math.ceil(workgroups / x));
        pass.end();
        encoder.copyBufferToBuffer(maskBuf, 0, readBuf, 0, n * width * 4);
        device.queue.submit([encoder.finish()]);
        await readBuf.mapAsync(GPUMapMode.READ);
        const words = new Uint32Array(readBuf.getMappedRange(), 0, n * width);
        const out = mask.subarray(r0 * width, (r0 + n) * width);
        for (let i = 0; i < words.length; i++) out[i] = words[i]!;
        readBuf.unmap();
      }
    } finally {
      for (const b of [scoresBuf, maskBuf, readBuf, uniformBuf]) b.destroy();
    }
    return mask;
  }

  function unstructured(
    data: Float32Array,
    N: number,
    K: number,
    o: UnstructuredOptions,
    what: string,
    absolute: number,
  ): Promise<Uint8Array> {
    checkMatrix(data, N, K, what);
    checkSparsity(o.sparsity);
    if (o.scope !== 'row' && o.scope !== 'tensor') {
      throw new ShrinkrayError('bad_argument', `scope must be 'row' or 'tensor', got '${String(o.scope)}'`);
    }
    const [rows, width] = o.scope === 'row' ? [N, K] : [1, N * K];
    const count = prunedCount(width, o.sparsity);
    return run(data, rows, width, what, rowSelect, (n) => ({
      uniform: new Uint32Array([n, width, count, absolute, 0, 0, 0, 0]),
      workgroups: n,
    }));
  }

  function nm(data: Float32Array, N: number, K: number, o: NmOptions, what: string, absolute: number): Promise<Uint8Array> {
    checkMatrix(data, N, K, what);
    checkNm(K, o, what);
    return run(data, N, K, what, nmPipeline, (n) => {
      const groups = (n * K) / o.m;
      return { uniform: new Uint32Array([groups, o.n, o.m, absolute, 0, 0, 0, 0]), workgroups: Math.ceil(groups / 64) };
    });
  }

  return {
    scoreMask: async (s, N, K, o, what = 'scores') => unstructured(s, N, K, o, what, 0),
    magnitudeMask: async (w, N, K, o, what = 'weight') => unstructured(w, N, K, o, what, 1),
    nmScoreMask: async (s, N, K, o, what = 'scores') => nm(s, N, K, o, what, 0),
    nmMask: async (w, N, K, o, what = 'weight') => nm(w, N, K, o, what, 1),
  };
}

/** NaN is refused before upload, with the TypeScript kernels' message. */
function throwOnNaN(data: Float32Array, what: string): void {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i]! & 0x7fffffff) > 0x7f800000) {
      throw new ShrinkrayError('bad_argument', `${what}: score at index ${i} is NaN; pruning needs finite scores`);
    }
  }
}

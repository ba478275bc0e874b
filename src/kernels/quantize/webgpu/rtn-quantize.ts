import { ShrinkrayError } from '../../../errors.ts';
import { blobBytes, zeroPointRowBytes } from '../matmul-nbits-layout.ts';
import { badBlockError, blockCount, validateRtn, type RtnOptions, type RtnResult } from '../rtn-options.ts';
import { rtnQuantizeWgsl } from './rtn-quantize-wgsl.ts';

/**
 * RTN quantization on WebGPU, shaped like an onnxruntime-web op: validateInputs ->
 * createProgramInfo -> the exported function. Rows go through the GPU in chunks that fit
 * the device's storage-binding limit; codes, scales and zero points come back bit-identical
 * to quantizeRtnReference (the shader emulates the reference's f32 steps in integers).
 */

/** Weights uploaded per dispatch, at most: bounded by the binding limit and by memory use. */
const MAX_CHUNK_BYTES = 64 << 20;

const validateInputs = (device: GPUDevice, weight: Float32Array, N: number, K: number, opts: RtnOptions): void => {
  validateRtn(weight, N, K, opts);
  if (K * 4 > Math.min(device.limits.maxStorageBufferBindingSize, MAX_CHUNK_BYTES)) {
    throw new ShrinkrayError('bad_argument', `WebGPU RTN: one row of K=${K} floats exceeds the device's storage binding limit`);
  }
};

interface ProgramInfo {
  kBlocks: number;
  rowPacked: number; // bytes of B per row
  scaleBytes: number; // 2 (f16) or 4
  zpRow: number; // bytes of zero points per row
  rowsPerChunk: number;
  /** Uniforms for a chunk of `rows` rows, and its 2-D workgroup grid. */
  params(rows: number): { uniforms: Uint32Array<ArrayBuffer>; grid: [number, number] };
}

const createProgramInfo = (device: GPUDevice, N: number, K: number, opts: RtnOptions): ProgramInfo => {
  const kBlocks = blockCount(K, opts.blockSize);
  const blob = blobBytes(opts.blockSize, opts.bits);
  const zpRow = zeroPointRowBytes(kBlocks, opts.bits);
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, MAX_CHUNK_BYTES);
  const rowsPerChunk = Math.max(1, Math.min(N, Math.floor(limit / (K * 4))));
  const maxX = device.limits.maxComputeWorkgroupsPerDimension;
  return {
    kBlocks,
    rowPacked: kBlocks * blob,
    scaleBytes: opts.scaleDtype === 'f16' ? 2 : 4,
    zpRow,
    rowsPerChunk,
    params(rows) {
      const total = rows * kBlocks;
      const nx = Math.min(total, maxX);
      const grid: [number, number] = [nx, Math.ceil(total / nx)];
      const uniforms = Uint32Array.of(
        rows,
        K,
        kBlocks,
        opts.bits,
        opts.blockSize,
        opts.symmetric ? 1 : 0,
        opts.scaleDtype === 'f16' ? 1 : 0,
        blob,
        zpRow,
        nx,
        0,
        0,
      );
      return { uniforms, grid };
    },
  };
};

const pipelines = new WeakMap<GPUDevice, GPUComputePipeline>();
function pipelineFor(device: GPUDevice): GPUComputePipeline {
  let p = pipelines.get(device);
  if (!p) {
    const module = device.createShaderModule({ code: rtnQuantizeWgsl, label: 'rtn-quantize' });
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: 'rtn-quantize' });
    pipelines.set(device, p);
  }
  return p;
}

const align4 = (x: number) => Math.ceil(x / 4) * 4;

/** Same contract as quantizeRtnReference, on a GPU device. */
export async function quantizeRtnWebGpu(
  device: GPUDevice,
  weight: Float32Array,
  N: number,
  K: number,
  opts: RtnOptions,
): Promise<RtnResult> {
  validateInputs(device, weight, N, K, opts);
  const info = createProgramInfo(device, N, K, opts);
  const { kBlocks, rowPacked, scaleBytes, zpRow, rowsPerChunk } = info;
  const packed = new Uint8Array(N * rowPacked); // [N, kBlocks, blob]
  const scales = scaleBytes === 2 ? new Uint16Array(N * kBlocks) : new Float32Array(N * kBlocks); // [N, kBlocks]
  const zeroPoints = opts.symmetric ? null : new Uint8Array(N * zpRow); // [N, zpRow]

  const sizes = {
    w: rowsPerChunk * K * 4,
    packed: align4(rowsPerChunk * rowPacked),
    scales: align4(rowsPerChunk * kBlocks * scaleBytes),
    zps: align4(Math.max(1, rowsPerChunk * zpRow)),
  };
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const pipeline = pipelineFor(device);
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const bufs = {
    uniforms: device.createBuffer({ size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
    w: device.createBuffer({ size: sizes.w, usage: storage }),
    packed: device.createBuffer({ size: sizes.packed, usage: storage }),
    scales: device.createBuffer({ size: sizes.scales, usage: storage }),
    zps: device.createBuffer({ size: sizes.zps, usage: storage }),
    status: device.createBuffer({ size: 4, usage: storage }),
    read: device.createBuffer({
      size: sizes.packed + sizes.scales + sizes.zps + 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    }),
  };
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [bufs.uniforms, bufs.w, bufs.packed, bufs.scales, bufs.zps, bufs.status].map((buffer, binding) => ({
      binding,
      resource: { buffer },
    })),
  });
  try {
    for (let r0 = 0; r0 < N; r0 += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, N - r0);
      const { uniforms, grid } = info.params(rows);
      device.queue.writeBuffer(bufs.uniforms, 0, uniforms);
      // The spec's writeBuffer takes views of shared memory too; @webgpu/types admits only ArrayBuffer views.
      device.queue.writeBuffer(bufs.w, 0, weight as GPUAllowSharedBufferSource, r0 * K, rows * K);
      device.queue.writeBuffer(bufs.status, 0, Uint32Array.of(0xffffffff));
      const enc = device.createCommandEncoder();
      enc.clearBuffer(bufs.packed);
      enc.clearBuffer(bufs.scales);
      enc.clearBuffer(bufs.zps);
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(grid[0], grid[1]);
      pass.end();
      enc.copyBufferToBuffer(bufs.packed, 0, bufs.read, 0, sizes.packed);
      enc.copyBufferToBuffer(bufs.scales, 0, bufs.read, sizes.packed, sizes.scales);
      enc.copyBufferToBuffer(bufs.zps, 0, bufs.read, sizes.packed + sizes.scales, sizes.zps);
      enc.copyBufferToBuffer(bufs.status, 0, bufs.read, sizes.packed + sizes.scales + sizes.zps, 4);
      device.queue.submit([enc.finish()]);
      await bufs.read.mapAsync(GPUMapMode.READ);
      const out = new Uint8Array(bufs.read.getMappedRange());
      const statusAt = sizes.packed + sizes.scales + sizes.zps;
      const bad = new DataView(out.buffer, out.byteOffset + statusAt, 4).getUint32(0, true);
      if (bad !== 0xffffffff) {
        bufs.read.unmap();
        throw badBlockError(weight, K, opts, r0 + Math.floor(bad / kBlocks), bad % kBlocks);
      }
      packed.set(out.subarray(0, rows * rowPacked), r0 * rowPacked);
      new Uint8Array(scales.buffer, r0 * kBlocks * scaleBytes, rows * kBlocks * scaleBytes).set(
        out.subarray(sizes.packed, sizes.packed + rows * kBlocks * scaleBytes),
      );
      zeroPoints?.set(out.subarray(sizes.packed + sizes.scales, sizes.packed + sizes.scales + rows * zpRow), r0 * zpRow);
      bufs.read.unmap();
    }
  } finally {
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    for (const b of Object.values(bufs)) b.destroy();
    const err = validation ?? oom;
    // On purpose: a GPU validation or out-of-memory error is the cause of whatever the body threw.
    // eslint-disable-next-line no-unsafe-finally
    if (err) throw new ShrinkrayError('runtime_error', `WebGPU RTN quantization failed: ${err.message}`);
  }
  return { packed, scales, zeroPoints };
}

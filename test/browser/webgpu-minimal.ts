/**
 * The slice of the WebGPU API the smoke test uses. TypeScript's DOM lib has no WebGPU
 * types and `@webgpu/types` is not a dependency yet; once it is, delete this file and use
 * the globals (`navigator.gpu`, `GPUBufferUsage`, `GPUMapMode`).
 */
export interface MinimalGpuBuffer {
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}

export interface MinimalGpuDevice {
  createShaderModule(desc: { code: string }): unknown;
  createComputePipeline(desc: { layout: 'auto'; compute: { module: unknown; entryPoint: string } }): {
    getBindGroupLayout(index: number): unknown;
  };
  createBuffer(desc: { size: number; usage: number }): MinimalGpuBuffer;
  createBindGroup(desc: { layout: unknown; entries: Array<{ binding: number; resource: { buffer: MinimalGpuBuffer } }> }): unknown;
  createCommandEncoder(): {
    beginComputePass(): {
      setPipeline(pipeline: unknown): void;
      setBindGroup(index: number, group: unknown): void;
      dispatchWorkgroups(x: number): void;
      end(): void;
    };
    copyBufferToBuffer(src: MinimalGpuBuffer, srcOffset: number, dst: MinimalGpuBuffer, dstOffset: number, size: number): void;
    finish(): unknown;
  };
  queue: { writeBuffer(buffer: MinimalGpuBuffer, offset: number, data: ArrayBufferView): void; submit(cmds: unknown[]): void };
  destroy(): void;
}

export interface MinimalGpuAdapter {
  info: { vendor: string; architecture: string; isFallbackAdapter?: boolean };
  requestDevice(): Promise<MinimalGpuDevice>;
}

export interface MinimalGpu {
  requestAdapter(): Promise<MinimalGpuAdapter | null>;
}

/** `navigator.gpu`, or undefined where the browser has no WebGPU. */
export function getGpu(): MinimalGpu | undefined {
  return (navigator as Navigator & { gpu?: MinimalGpu }).gpu;
}

// Flag values from the WebGPU spec (GPUBufferUsage, GPUMapMode namespaces).
export const BufferUsage = Object.freeze({ MAP_READ: 0x0001, COPY_SRC: 0x0004, COPY_DST: 0x0008, UNIFORM: 0x0040, STORAGE: 0x0080 });
export const MapMode = Object.freeze({ READ: 0x0001 });

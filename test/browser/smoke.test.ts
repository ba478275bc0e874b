import { describe, expect, it, vi } from 'vitest';
import * as Comlink from 'comlink';
import type { EchoApi } from './echo.worker.ts';
import { BUDGET } from '../error-budgets.ts';
import { ADAPTER_WAIT_MS, pickDevice } from '../../src/runtime/execution-device.ts';

/**
 * What the product relies on in the browser, checked in real Chromium: WASM SIMD,
 * cross-origin isolation, WebGPU compute (SwiftShader on CI), IndexedDB for large
 * blobs, and comlink module workers with transferred buffers.
 */

// A hand-assembled module: mul4(a, b, out) stores f32x4.mul(v128.load a, v128.load b) at out.
// (func (export "mul4") (param i32 i32 i32) local.get 2 local.get 0 v128.load local.get 1
//   v128.load f32x4.mul v128.store) (memory (export "mem") 1)
const simdModule = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version 1
  0x01,
  0x07,
  0x01,
  0x60,
  0x03,
  0x7f,
  0x7f,
  0x7f,
  0x00, // type: (i32 i32 i32) -> ()
  0x03,
  0x02,
  0x01,
  0x00, // function 0 has type 0
  0x05,
  0x03,
  0x01,
  0x00,
  0x01, // one memory, min 1 page
  0x07,
  0x0e,
  0x02,
  0x04,
  0x6d,
  0x75,
  0x6c,
  0x34,
  0x00,
  0x00,
  0x03,
  0x6d,
  0x65,
  0x6d,
  0x02,
  0x00, // exports mul4, mem
  0x0a,
  0x19,
  0x01,
  0x17,
  0x00, // code: one body of 23 bytes, no locals
  0x20,
  0x02,
  0x20,
  0x00,
  0xfd,
  0x00,
  0x04,
  0x00, // local.get 2; local.get 0; v128.load align=16
  0x20,
  0x01,
  0xfd,
  0x00,
  0x04,
  0x00, // local.get 1; v128.load align=16
  0xfd,
  0xe6,
  0x01,
  0xfd,
  0x0b,
  0x04,
  0x00,
  0x0b, // f32x4.mul; v128.store align=16; end
]);

describe('WebAssembly SIMD', () => {
  it('validates and runs a module that uses v128', async () => {
    expect(WebAssembly.validate(simdModule)).toBe(true);
    // A truncated copy must fail, so validate() is not vacuously true.
    expect(WebAssembly.validate(simdModule.subarray(0, simdModule.length - 1))).toBe(false);

    const { instance } = await WebAssembly.instantiate(simdModule);
    const { mul4, mem } = instance.exports as { mul4: (a: number, b: number, out: number) => void; mem: WebAssembly.Memory };
    const f32 = new Float32Array(mem.buffer);
    f32.set([1.5, -2, 3, 4], 0); // a at byte 0
    f32.set([2, 3, -0.5, 0.25], 4); // b at byte 16
    mul4(0, 16, 32);
    expect(Array.from(f32.subarray(8, 12))).toEqual([3, -6, -1.5, 1]);
  });
});

describe('cross-origin isolation', () => {
  it('is isolated and has SharedArrayBuffer', () => {
    expect(globalThis.crossOriginIsolated).toBe(true);
    expect(typeof SharedArrayBuffer).toBe('function');
    const shared = new Int32Array(new SharedArrayBuffer(16));
    Atomics.add(shared, 0, 5);
    expect(Atomics.load(shared, 0)).toBe(5);
  });
});

describe('WebGPU', () => {
  it('finds an adapter and computes y = a*x + b over 1,024 floats', async () => {
    const gpu: GPU | undefined = navigator.gpu;
    expect(gpu, 'navigator.gpu is missing (is --enable-unsafe-webgpu set?)').toBeDefined();
    const adapter = await gpu!.requestAdapter();
    expect(adapter, 'requestAdapter() returned null').not.toBeNull();
    const device = await adapter!.requestDevice();
    try {
      const n = 1024;
      const a = 1.5;
      const b = -0.25;
      const x = Float32Array.from({ length: n }, (_, i) => i / 7 - 40);
      const module = device.createShaderModule({
        code: `
          struct Params { a: f32, b: f32 }
          @group(0) @binding(0) var<uniform> params: Params;
          @group(0) @binding(1) var<storage, read> x: array<f32>;
          @group(0) @binding(2) var<storage, read_write> y: array<f32>;
          @compute @workgroup_size(64)
          fn main(@builtin(global_invocation_id) id: vec3<u32>) {
            if (id.x < arrayLength(&x)) { y[id.x] = params.a * x[id.x] + params.b; }
          }`,
      });
      const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const params = device.createBuffer({ size: 8, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(params, 0, new Float32Array([a, b]));
      const xBuf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(xBuf, 0, x);
      const yBuf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
      const readBuf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: params } },
          { binding: 1, resource: { buffer: xBuf } },
          { binding: 2, resource: { buffer: yBuf } },
        ],
      });
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(n / 64);
      pass.end();
      encoder.copyBufferToBuffer(yBuf, 0, readBuf, 0, n * 4);
      device.queue.submit([encoder.finish()]);
      await readBuf.mapAsync(GPUMapMode.READ);
      const y = new Float32Array(readBuf.getMappedRange().slice(0));
      readBuf.unmap();

      // a*x + b in f32 may be fused (one rounding) or not (two); allow one ulp-scale slack.
      let maxErr = 0;
      for (let i = 0; i < n; i++) maxErr = Math.max(maxErr, Math.abs(y[i]! - (a * x[i]! + b)));
      expect(maxErr).toBeLessThan(BUDGET.gpuMultiplyAdd);
    } finally {
      device.destroy();
    }
  });
});

describe("'auto' picks the device", () => {
  it('takes the CPU on a fallback adapter (SwiftShader here), and on a requestAdapter left unanswered', async () => {
    const adapter = await navigator.gpu.requestAdapter();
    expect(adapter?.info.isFallbackAdapter, 'this Chromium runs WebGPU on SwiftShader').toBe(true);
    expect(await pickDevice('auto')).toBe('wasm');
    expect(await pickDevice('webgpu')).toBe('webgpu'); // an explicit choice takes any adapter

    // A browser whose GPU process never answers: 'auto' goes on after ADAPTER_WAIT_MS.
    const never = vi.spyOn(navigator.gpu, 'requestAdapter').mockReturnValue(new Promise(() => {}));
    vi.useFakeTimers();
    try {
      let picked: string | undefined;
      void pickDevice('auto').then((d) => (picked = d));
      await vi.advanceTimersByTimeAsync(ADAPTER_WAIT_MS - 1);
      expect(picked).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(picked).toBe('wasm');
    } finally {
      vi.useRealTimers();
      never.mockRestore();
    }
  });
});

describe('IndexedDB', () => {
  const dbName = 'shrinkray-smoke-test';

  function request<T>(req: IDBRequest<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function sha256(data: ArrayBuffer): Promise<string> {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    return Array.from(digest, (v) => v.toString(16).padStart(2, '0')).join('');
  }

  it('stores a 50 MB ArrayBuffer and returns it byte-identical', async () => {
    // Deterministic non-constant content (xorshift32), so a stale or zeroed read cannot pass.
    const size = 50 * 1024 * 1024;
    const words = new Uint32Array(size / 4);
    let s = 0x9e3779b9;
    for (let i = 0; i < words.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      words[i] = s >>> 0;
    }
    const original = words.buffer;
    const expectedHash = await sha256(original);

    const open = indexedDB.open(dbName, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('blobs');
    const db = await request(open);
    try {
      const write = db.transaction('blobs', 'readwrite');
      write.objectStore('blobs').put(original, 'big');
      await new Promise<void>((resolve, reject) => {
        write.oncomplete = () => resolve();
        write.onerror = () => reject(write.error);
      });

      const stored = await request(db.transaction('blobs').objectStore('blobs').get('big'));
      expect(stored).toBeInstanceOf(ArrayBuffer);
      const back = stored as ArrayBuffer;
      expect(back.byteLength).toBe(size);
      expect(await sha256(back)).toBe(expectedHash);
      const got = new Uint32Array(back);
      let mismatches = 0;
      for (let i = 0; i < words.length; i++) if (got[i] !== words[i]) mismatches++;
      expect(mismatches).toBe(0);
    } finally {
      db.close();
      await request(indexedDB.deleteDatabase(dbName));
    }
    const names = (await indexedDB.databases()).map((d) => d.name);
    expect(names).not.toContain(dbName);
  });
});

describe('comlink module worker', () => {
  it('answers calls, transfers ArrayBuffers both ways and is isolated', async () => {
    const worker = new Worker(new URL('./echo.worker.ts', import.meta.url), { type: 'module' });
    const remote = Comlink.wrap<EchoApi>(worker);
    try {
      expect(await remote.echo('hello')).toBe('echo: hello');
      expect(await remote.isolation()).toEqual({ crossOriginIsolated: true, sharedArrayBuffer: true });

      const bytes = Uint8Array.from({ length: 4096 }, (_, i) => i % 100);
      const expectedSum = bytes.reduce((acc, v) => acc + v, 0);
      const sent = bytes.buffer;
      const result = await remote.sumAndDouble(Comlink.transfer(sent, [sent]));
      expect(sent.byteLength, 'the buffer was copied, not transferred').toBe(0);
      expect(result.sum).toBe(expectedSum);
      const doubled = new Uint8Array(result.buffer);
      expect(doubled.length).toBe(4096);
      expect(doubled[99]).toBe(198);
      expect(doubled[4095]).toBe((4095 % 100) * 2);
    } finally {
      remote[Comlink.releaseProxy]();
      worker.terminate();
    }
  });
});

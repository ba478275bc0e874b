import type { Capabilities } from './capabilities.ts';

/**
 * The environment panel's rows: each capability the app uses, whether this browser has it,
 * and what the app does without it (a fallback, or the refusal that names it).
 */
export interface CapabilityRow {
  id: string;
  name: string;
  state: 'yes' | 'no' | 'partial';
  detail?: string;
  /** What the app does without it; for a required capability, the refusal. */
  without: string;
  /** False for what the app can do without at no cost (shown as 'not needed' when missing). */
  needed?: false;
}

const mb = (n: number) => `${Math.round(n / 1024 ** 2).toLocaleString('en-US')} MB`;

export function capabilityRows(c: Capabilities): CapabilityRow[] {
  const w = c.worker?.scope;
  const yes = (b: boolean): CapabilityRow['state'] => (b ? 'yes' : 'no');
  return [
    {
      id: 'wasm-simd',
      name: 'WebAssembly SIMD',
      state: yes(c.page.wasmSimd && (!w || w.wasmSimd)),
      without: 'Required: the CPU engine, the quantizers and onnxruntime-web are WASM SIMD builds, so the app refuses to start.',
    },
    {
      id: 'relaxed-simd',
      name: 'Relaxed SIMD',
      state: yes(!!w?.relaxedSimd),
      without: 'The CPU engine runs its plain-SIMD build (16-bit products instead of the relaxed 8-bit dot product): slower decode.',
    },
    {
      id: 'threads',
      name: 'Threads (cross-origin isolated, SharedArrayBuffer)',
      state: yes(!!w?.sharedMemory),
      detail: w?.sharedMemory
        ? `up to ${c.maxThreads} threads`
        : c.page.crossOriginIsolated
          ? undefined
          : 'this page is not cross-origin isolated',
      without:
        'Everything runs on one thread (the engine and the quantizers are slower). A host that cannot send COOP/COEP gets isolation from the service worker after one reload.',
    },
    {
      id: 'module-workers',
      name: 'Module workers',
      state: yes(!!c.worker),
      without: 'Required: compression and chat run in module workers, so the app refuses to start.',
    },
    {
      id: 'nested-workers',
      name: 'Workers inside workers',
      state: yes(!!c.worker?.nestedWorkers),
      without: 'Quantization runs on the compress worker alone and the engine on one thread.',
    },
    {
      id: 'webgpu',
      name: 'WebGPU',
      state: c.webgpu === 'yes' ? 'yes' : c.webgpu === 'fallback' ? 'partial' : 'no',
      detail:
        c.adapter && c.gpuLimits
          ? `${c.webgpu === 'fallback' ? 'software adapter ' : ''}${c.adapter}; maxBufferSize ${mb(c.gpuLimits.maxBufferSize)}, maxStorageBufferBindingSize ${mb(c.gpuLimits.maxStorageBufferBindingSize)}`
          : undefined,
      without: 'Models run on the CPU engine (WASM); a software adapter is slower than it, so it is not used either.',
    },
    {
      id: 'web-locks',
      name: 'Web Locks',
      state: yes(c.page.webLocks),
      without:
        'An update or the reload into isolation does not wait for running jobs, and cleaning up half-written models goes by their age.',
    },
    {
      id: 'storage-estimate',
      name: 'Storage estimate',
      state: yes(c.storageEstimate),
      without: 'Storage use and quota show as unknown, and downloads are not checked against the quota before they start.',
    },
    {
      id: 'storage-persist',
      name: 'Persistent storage',
      state: yes(c.storagePersist),
      without:
        'The browser may evict stored models when the disk fills (or, in Safari, after 7 days without a visit); the stored-models screen warns.',
    },
    {
      id: 'memory',
      name: 'Memory budget',
      state: c.memory.bytes === null ? 'yes' : c.memory.constrained ? 'partial' : 'yes',
      detail: c.memory.bytes === null ? c.memory.source : `${mb(c.memory.bytes)}: ${c.memory.source}`,
      without:
        'Where the budget is small the Shrink screen starts with the smallest preset, and a compression whose estimated peak exceeds the budget is refused before it starts.',
    },
    {
      id: 'service-worker',
      name: 'Service worker',
      state: yes(c.serviceWorker),
      without: 'No offline use and no install; a host without COOP/COEP headers stays on one thread.',
    },
    {
      id: 'wait-async',
      needed: false,
      name: 'Atomics.waitAsync',
      state: yes(c.page.waitAsync),
      without: 'Not needed: the engine threads wait with Atomics.wait in workers, and the page never blocks.',
    },
    {
      id: 'file-system-access',
      needed: false,
      name: 'File System Access',
      state: yes(c.fileSystemAccess),
      without:
        'Not needed: files and folders are read through the file picker, the folder picker and drag and drop; exports download as a zip.',
    },
    {
      id: 'opfs',
      needed: false,
      name: 'Origin private file system',
      state: yes(c.opfs),
      without: 'Not needed: models are stored in IndexedDB.',
    },
  ];
}

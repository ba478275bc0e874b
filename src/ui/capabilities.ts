import { memoryBudget, type MemoryBudget } from './memory-budget.ts';
import { probeScope, type ScopeProbe, type WorkerProbe } from './capability-probe.ts';

/**
 * Every browser capability the app uses, detected once at start (environment.ts keeps the
 * result): in the page, and in a probe worker, since models are compressed and run in
 * workers. Each capability has a row for the environment panel that says what the app does
 * without it; the app's own decisions (threads, where models run, the default preset, the
 * refusal of a job that cannot fit) read this result, never the APIs again.
 */
export interface Capabilities {
  page: ScopeProbe;
  /** What a module worker sees; null when no module worker answered. */
  worker: WorkerProbe | null;
  webgpu: 'yes' | 'fallback' | 'no';
  adapter?: string;
  gpuLimits?: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  storageEstimate: boolean;
  storagePersist: boolean;
  fileSystemAccess: boolean;
  opfs: boolean;
  serviceWorker: boolean;
  memory: MemoryBudget;
  cores: number;
  /** Threads the CPU engine may use: 1 unless workers share memory and can start workers of their own. */
  maxThreads: number;
}

/** How long the page waits for the probe worker before it counts module workers as missing. */
export const PROBE_WAIT_MS = 8_000;

function probeWorker(): Promise<WorkerProbe | null> {
  return new Promise((done) => {
    let w: Worker | undefined;
    const timer = setTimeout(() => finish(null), PROBE_WAIT_MS);
    function finish(answer: WorkerProbe | null) {
      clearTimeout(timer);
      w?.terminate();
      done(answer);
    }
    try {
      w = new Worker(new URL('./capability-probe.worker.ts', import.meta.url), { type: 'module', name: 'shrinkray-probe' });
      w.onmessage = (e: MessageEvent<WorkerProbe>) => finish(e.data);
      // A probe that cannot start is an answer, not the page's error: handled here, not reported.
      w.onerror = (e) => {
        e.preventDefault();
        finish(null);
      };
    } catch {
      finish(null);
    }
  });
}

async function probeWebGpu(): Promise<Pick<Capabilities, 'webgpu' | 'adapter' | 'gpuLimits'>> {
  try {
    const a = await navigator.gpu?.requestAdapter();
    if (!a) return { webgpu: 'no' };
    const info = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    return {
      webgpu: info.isFallbackAdapter ? 'fallback' : 'yes',
      adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') || 'unnamed adapter',
      gpuLimits: { maxBufferSize: a.limits.maxBufferSize, maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize },
    };
  } catch {
    return { webgpu: 'no' };
  }
}

function isIosLike(): boolean {
  const ua = navigator.userAgent;
  return /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
}

export async function detectCapabilities(): Promise<Capabilities> {
  const page = probeScope();
  const [worker, gpu] = await Promise.all([probeWorker(), probeWebGpu()]);
  const cores = navigator.hardwareConcurrency || 1;
  const sm = navigator.storage as StorageManager | undefined;
  const threaded = !!worker?.scope.sharedMemory && worker.nestedWorkers;
  return {
    page,
    worker,
    ...gpu,
    storageEstimate: typeof sm?.estimate === 'function',
    storagePersist: typeof sm?.persist === 'function',
    fileSystemAccess: 'showOpenFilePicker' in globalThis && 'showDirectoryPicker' in globalThis,
    opfs: typeof sm?.getDirectory === 'function',
    serviceWorker: 'serviceWorker' in navigator,
    memory: memoryBudget({ deviceMemoryGB: (navigator as { deviceMemory?: number }).deviceMemory, ios: isIosLike() }),
    cores,
    maxThreads: threaded ? Math.max(1, Math.min(8, cores)) : 1,
  };
}

/** Capabilities the app cannot run without, named for the refusal (empty: it runs). */
export function missingRequired(c: Capabilities): string[] {
  const missing: string[] = [];
  if (!c.page.wasmSimd || (c.worker && !c.worker.scope.wasmSimd)) missing.push('WebAssembly SIMD');
  if (!c.worker) missing.push('module workers');
  return missing;
}

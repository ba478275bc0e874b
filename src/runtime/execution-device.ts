import { ShrinkrayError } from '../errors.ts';

/**
 * Where onnxruntime-web runs, and how 'auto' picks it, without importing onnxruntime-web:
 * openEngine (jobs/open-engine.ts) picks the engine from the device, and a model that ends up
 * on the CPU engine never loads onnxruntime-web (its bundle and wasm are most of a page's bytes).
 */
export type ExecutionDevice = 'wasm' | 'webgpu';

export const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/**
 * 'auto' takes webgpu only on a real GPU: a fallback adapter (SwiftShader, on the CPU) is far
 * slower than the wasm EP, so it counts as none. An explicit 'webgpu' takes any adapter.
 * Node's onnxruntime-web runs wasm only.
 */
export async function pickDevice(preference: 'auto' | ExecutionDevice = 'auto'): Promise<ExecutionDevice> {
  if (preference === 'wasm') return 'wasm';
  // Older Chromium puts isFallbackAdapter on the adapter, newer on adapter.info.
  type Adapter = { isFallbackAdapter?: boolean; info?: { isFallbackAdapter?: boolean } };
  const gpu = isNode ? undefined : (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  const adapter = (gpu ? await boundedAdapter(gpu.requestAdapter()) : null) as Adapter | null;
  if (preference === 'webgpu') {
    if (!adapter) throw new ShrinkrayError('runtime_error', 'WebGPU was requested but no adapter is available');
    return 'webgpu';
  }
  return adapter && !adapter.info?.isFallbackAdapter && !adapter.isFallbackAdapter ? 'webgpu' : 'wasm';
}

/**
 * A browser may leave requestAdapter unanswered (no GPU process, a driver that never replies):
 * after ADAPTER_WAIT_MS it counts as no adapter, so 'auto' goes on with the CPU instead of
 * waiting for ever. A real adapter answers in well under a second.
 */
export const ADAPTER_WAIT_MS = 10_000;

function boundedAdapter(request: Promise<unknown>): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((ok) => (timer = setTimeout(() => ok(null), ADAPTER_WAIT_MS)));
  return Promise.race([request.catch(() => null), late]).finally(() => clearTimeout(timer));
}

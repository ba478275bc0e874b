import { signal } from '@preact/signals';

/**
 * What this browser offers: a WebGPU adapter (a real one; a software fallback such as
 * SwiftShader is slower than wasm, so 'auto' does not use it) and cross-origin isolation
 * (wasm threads). Read once at start; the page says which backend models will run on.
 */
export interface Environment {
  webgpu: 'yes' | 'fallback' | 'no';
  adapter?: string;
  isolated: boolean;
  cores: number;
}

export const environment = signal<Environment | null>(null);

export async function detectEnvironment(): Promise<void> {
  const isolated = globalThis.crossOriginIsolated === true;
  const cores = navigator.hardwareConcurrency || 1;
  let webgpu: Environment['webgpu'] = 'no';
  let adapter: string | undefined;
  try {
    const a = await navigator.gpu?.requestAdapter();
    if (a) {
      const info = a.info;
      adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') || 'unnamed adapter';
      webgpu = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ? 'fallback' : 'yes';
    }
  } catch {
    webgpu = 'no';
  }
  environment.value = { webgpu, adapter, isolated, cores };
}

/** One sentence on where models run, for the page and the chat screen. */
export function backendSentence(env: Environment): string {
  const threads = env.isolated ? `up to ${Math.min(8, env.cores)} threads` : 'one thread (the page is not cross-origin isolated)';
  const cpu = `Shrinkray's CPU engine (WASM SIMD) with ${threads}`;
  if (env.webgpu === 'yes') return `WebGPU is available (${env.adapter}), so models run there; they can also run on ${cpu}.`;
  if (env.webgpu === 'fallback') return `Only a software WebGPU adapter (${env.adapter}) is available, so models run on ${cpu}.`;
  return `No WebGPU in this browser: models run on ${cpu}.`;
}

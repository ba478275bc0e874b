import { signal } from '@preact/signals';
import { detectCapabilities, type Capabilities } from './capabilities.ts';
import { defaultRecipe, DEFAULT_RECIPE } from './memory-budget.ts';
import { applyMaxThreads, recipeText } from './state.ts';

/**
 * What this browser offers (capabilities.ts), read once at start, and the decisions the app
 * takes from it: how many threads the CPU engine may use, and the preset the Shrink screen
 * starts with (the smallest where memory is constrained, unless a link chose one). The page
 * says which backend models will run on; the environment panel lists every capability.
 */
export type Environment = Capabilities;

export const environment = signal<Environment | null>(null);

export async function detectEnvironment(): Promise<void> {
  const env = await detectCapabilities();
  applyMaxThreads(env.maxThreads);
  const linked = new URLSearchParams(location.search).has('recipe');
  if (!linked && recipeText.value === DEFAULT_RECIPE) recipeText.value = defaultRecipe(env.memory);
  environment.value = env;
}

/** One sentence on where models run, for the page and the chat screen. */
export function backendSentence(env: Environment): string {
  const why = !env.worker?.scope.sharedMemory
    ? ' (the page is not cross-origin isolated)'
    : !env.worker.nestedWorkers
      ? ' (workers cannot start workers here)'
      : '';
  const threads = env.maxThreads > 1 ? `up to ${env.maxThreads} threads` : `one thread${why}`;
  const cpu = `Shrinkray's CPU engine (${env.worker?.scope.relaxedSimd ? 'relaxed SIMD' : 'WASM SIMD'}) with ${threads}`;
  if (env.webgpu === 'yes') return `WebGPU is available (${env.adapter}), so models run there; they can also run on ${cpu}.`;
  if (env.webgpu === 'fallback') return `Only a software WebGPU adapter (${env.adapter}) is available, so models run on ${cpu}.`;
  return `No WebGPU in this browser: models run on ${cpu}.`;
}

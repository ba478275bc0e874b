import { describe, expect, it } from 'vitest';
import { checkDemo, demoAvailable } from '../../src/ui/demo-card.tsx';
import { capabilityRows } from '../../src/ui/capability-rows.ts';
import { missingRequired } from '../../src/ui/capabilities.ts';
import { backendSentence, detectEnvironment, environment } from '../../src/ui/environment.ts';

/**
 * The app's probes in real Chromium, served like the app (same headers, same public/ folder
 * with the demo model that `npm run fixtures` generated before the tests).
 */
describe('app probes', () => {
  it('finds the bundled demo model under models/stories260K/', async () => {
    await checkDemo();
    expect(demoAvailable.value).toBe(true);
  });

  it('reports cross-origin isolation and that a software WebGPU adapter means the CPU engine', async () => {
    await detectEnvironment();
    const env = environment.value!;
    expect(env.page.crossOriginIsolated).toBe(true);
    // What a worker sees, where models run: the probe worker, and one it started itself.
    expect(env.worker?.scope).toMatchObject({ wasmSimd: true, relaxedSimd: true, sharedMemory: true, webLocks: true });
    expect(env.worker?.nestedWorkers).toBe(true);
    expect(env.maxThreads).toBe(Math.min(8, navigator.hardwareConcurrency));
    // Headless Chromium here has SwiftShader only: a fallback adapter, which 'auto' does not use.
    expect(env.webgpu).toBe('fallback');
    expect(env.gpuLimits!.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 ** 2);
    expect(backendSentence(env)).toMatch(
      /^Only a software WebGPU adapter .* so models run on Shrinkray's CPU engine \(relaxed SIMD\) with up to \d+ threads\.$/,
    );
    expect(missingRequired(env)).toEqual([]);
    // Chromium has every capability the app uses; the software adapter is the one limit.
    const limited = capabilityRows(env).filter((r) => r.state !== 'yes');
    expect(limited.map((r) => r.id)).toEqual(['webgpu']);
  });
});

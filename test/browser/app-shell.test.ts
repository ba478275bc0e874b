import { describe, expect, it } from 'vitest';
import { checkDemo, demoAvailable } from '../../src/ui/demo-card.tsx';
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
    expect(env.isolated).toBe(true);
    // Headless Chromium here has SwiftShader only: a fallback adapter, which 'auto' does not use.
    expect(env.webgpu).toBe('fallback');
    expect(backendSentence(env)).toMatch(
      /^Only a software WebGPU adapter .* so models run on Shrinkray's CPU engine \(WASM SIMD\) with up to \d+ threads\.$/,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { demoModelView } from '../../src/ui/demo-model-view.ts';
import { environmentView } from '../../src/ui/environment-view.ts';

/**
 * The app shell's views in real Chromium, served like the app (same headers, same public/
 * folder with the demo model that `npm run fixtures` generated before the tests).
 */

async function settled(root: HTMLElement): Promise<string> {
  document.body.append(root);
  // Each card starts with a "Checking…" placeholder and replaces it once its probe finishes.
  for (let i = 0; i < 200 && root.textContent!.includes('Checking'); i++) await new Promise((r) => setTimeout(r, 25));
  root.remove();
  return root.textContent!;
}

describe('app shell', () => {
  it('shows the demo model shape, read from public/models/stories260K/config.json', async () => {
    const text = await settled(demoModelView());
    expect(text).toContain('Layers5');
    expect(text).toContain('Vocabulary512');
    expect(text).toContain('8 (4 key/value heads)');
    // 512*64 tied embedding + 5 layers * (q,k,v,o 12,288 + FFN 33,024 + norms 128) + final norm 64.
    expect(text).toContain('260,032');
  });

  it('reports cross-origin isolation and the WebGPU adapter', async () => {
    const text = await settled(environmentView());
    expect(text).toContain('Cross-origin isolatedyes');
    expect(text).toMatch(/WebGPU.*max buffer \d+ MiB/);
  });
});

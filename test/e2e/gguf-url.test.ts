import { describe, expect, inject, it } from 'vitest';
import { ShrinkrayPage } from './shrinkray-page.ts';
import { ownHub } from '../hub/own-hub.ts';

/**
 * A GGUF file's URL typed into the hub box: nothing is fetched until the button is pressed
 * (so a deep link cannot start a download); then the worker checks the header by ranges,
 * downloads the file and converts it, and the model is chosen for shrinking.
 */
const FILE = 'stories260K-Q8_0.gguf';

interface HubStats {
  bytesServed: Record<string, number>;
}

describe('a GGUF URL through the page', () => {
  it('asks first, then imports the file by ranges and opens it for shrinking', async () => {
    const appUrl = inject('appUrl');
    const hubUrl = await ownHub(); // resets its counts and sets faults: not the hub other files use
    const hub = (what: string, body?: unknown) =>
      fetch(`${hubUrl}/__hub/${what}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    await hub('reset', {});
    const url = `${hubUrl}/test-org/fixture-text/resolve/main/${FILE}`;
    const app = await ShrinkrayPage.open(appUrl);
    const { page } = app;
    await page.getByLabel('Repo id').fill(url);
    await page.getByRole('button', { name: 'Check files' }).click();
    const go = page.getByRole('button', { name: 'Download and import GGUF' });
    await go.waitFor();
    const served = async () => ((await hub('stats').then((r) => r.json())) as HubStats).bytesServed[`test-org/fixture-text/${FILE}`] ?? 0;
    expect(await served()).toBe(0);
    await app.checkScreen('model-gguf-url');
    await go.click();
    await app.shrinkScreen();
    expect(await page.getByText(`${FILE} (url)`, { exact: true }).first().isVisible()).toBe(true);
    await expect.poll(() => page.getByText('LlamaForCausalLM: 5 layers').isVisible()).toBe(true);
    expect(await served()).toBeGreaterThan(0);
    app.expectOnlyOrigins(hubUrl);
    expect(app.errors).toEqual([]);
  });
});

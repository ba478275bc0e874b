import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { launchApp } from './app-browser.ts';
import { checkScreen, expectOnlyOrigins, FIXTURES, numberIn, openScreen } from './app-helpers.ts';

/** Round-to-nearest int4-g32's perplexity on the demo's sample stories (the journey test measures it). */
const RTN_INT4_G32_SAMPLE_PPL = 4.08;

/**
 * A calibrated recipe the way a person picks one: the GPTQ preset shows the calibration text
 * choice (the demo's calibration stories built in, served by the app), an empty paste is
 * refused with a message, pasted stories calibrate the model, the report says on what, and the
 * result scores below round-to-nearest at the same size and chats on the CPU engine.
 */
describe('a calibrated recipe in the app', () => {
  it('GPTQ int4 on pasted stories: picker, refusal of an empty paste, report naming the calibration, better than RTN, chat', async () => {
    const appUrl = inject('appUrl');
    const app = await launchApp(appUrl);
    const { page } = app;
    await expect.poll(() => page.getByRole('button', { name: /Use the demo model/ }).isEnabled()).toBe(true);
    await page.getByRole('button', { name: /Use the demo model/ }).click();
    await page.getByRole('heading', { name: 'Shrink it' }).waitFor();

    await page.getByLabel(/GPTQ int4 \+ emb8/).check();
    expect(await page.getByLabel('Recipe (advanced: steps joined by +)').inputValue()).toBe('gptq-int4-g32+emb8');
    const picker = page.getByRole('group', { name: 'Calibration text' });
    await picker.waitFor();
    expect(await picker.getByLabel(/Built in: TinyStories calibration stories/).isChecked()).toBe(true);
    // The built-in choice is a file the app serves beside the demo model.
    expect(await page.evaluate(async () => (await fetch('models/text/tinystories_calibration.txt')).ok)).toBe(true);

    await picker.getByLabel('Text I paste').check();
    await page.getByRole('button', { name: 'Compress', exact: true }).click();
    await expect.poll(() => page.getByText(/the pasted calibration text is empty/).isVisible()).toBe(true);

    // Sixty of the calibration stories (none of them is scored by the report).
    const stories = (await readFile(resolve(FIXTURES, 'text', 'tinystories_calibration.txt'), 'utf8'))
      .split('<|endoftext|>')
      .slice(0, 60)
      .join('<|endoftext|>');
    await page.getByLabel(/Your calibration text/).fill(stories);
    await checkScreen(page, 'shrink-calibration');

    await page.getByRole('button', { name: 'Compress', exact: true }).click();
    await page.getByRole('heading', { name: 'Report: stories260K (demo) · gptq-int4-g32+emb8' }).waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('calibration').textContent()).toMatch(
      /^pasted text: (\d+) of \1 windows of 512 tokens \([\d,]+ tokens, seed 0\), [\d.]+ s$/,
    );
    await page.getByTestId('ppl-after').waitFor({ timeout: 120_000 });
    const pplBefore = await numberIn(page, 'ppl-before');
    const pplAfter = await numberIn(page, 'ppl-after');
    expect(pplBefore).toBeCloseTo(3.548, 3);
    expect(pplAfter).toBeGreaterThan(pplBefore);
    expect(pplAfter).toBeLessThan(RTN_INT4_G32_SAMPLE_PPL);
    expect(await page.locator('.report-eval caption').textContent()).toMatch(/ · CPU engine \((relaxed|WASM) SIMD\), \d threads? · /);
    await checkScreen(page, 'shrink-report-calibrated');

    await openScreen(page, '3. Chat');
    expect(await page.getByRole('combobox', { name: 'Model' }).inputValue()).toBe('compressed:demo:stories260K:gptq-int4-g32+emb8');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.turn.assistant .small').count(), { timeout: 60_000 }).toBe(1);
    expect(await page.getByText(/^CPU engine \((relaxed|WASM) SIMD\), \d threads? · /).isVisible()).toBe(true);
    expect((await page.locator('.turn.assistant .text').textContent())!.trim().length).toBeGreaterThan(0);

    expectOnlyOrigins(app, [new URL(appUrl).origin]);
    expect(app.errors).toEqual([]);
  });
});

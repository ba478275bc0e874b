import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { FIXTURES } from './app-helpers.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';

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
    const app = await ShrinkrayPage.open(inject('appUrl'));
    const { page } = app;
    await app.chooseDemo();

    await page.getByLabel(/GPTQ int4 \+ emb8/).check();
    expect(await app.recipe.inputValue()).toBe('gptq-int4-g32+emb8');
    const picker = app.calibrationPicker;
    await picker.waitFor();
    expect(await picker.getByLabel(/Built in: TinyStories calibration stories/).isChecked()).toBe(true);
    // The built-in choice is a file the app serves beside the demo model.
    expect(await page.evaluate(async () => (await fetch('models/text/tinystories_calibration.txt')).ok)).toBe(true);

    await picker.getByLabel('Text I paste').check();
    await app.compressButton.click();
    await expect.poll(() => page.getByText(/the pasted calibration text is empty/).isVisible()).toBe(true);

    // Sixty of the calibration stories (none of them is scored by the report).
    const stories = (await readFile(resolve(FIXTURES, 'text', 'tinystories_calibration.txt'), 'utf8'))
      .split('<|endoftext|>')
      .slice(0, 60)
      .join('<|endoftext|>');
    await app.pasteCalibration(stories);
    await app.checkScreen('shrink-calibration');

    await app.compress('stories260K (demo) · gptq-int4-g32+emb8');
    expect(await page.getByTestId('calibration').textContent()).toMatch(
      /^pasted text: (\d+) of \1 windows of 512 tokens \([\d,]+ tokens, seed 0\), [\d.]+ s$/,
    );
    const { before: pplBefore, after: pplAfter } = await app.perplexity();
    expect(pplBefore).toBeCloseTo(3.548, 3);
    expect(pplAfter).toBeGreaterThan(pplBefore);
    expect(pplAfter).toBeLessThan(RTN_INT4_G32_SAMPLE_PPL);
    expect(await page.locator('.report-eval caption').textContent()).toMatch(/ · CPU engine \((relaxed|WASM) SIMD\), \d threads? · /);
    await app.checkScreen('shrink-report-calibrated');

    await app.openScreen('3. Chat');
    expect(await app.chatModel.inputValue()).toBe('compressed:demo:stories260K:gptq-int4-g32+emb8');
    await app.send('');
    expect(await page.getByText(/^CPU engine \((relaxed|WASM) SIMD\), \d threads? · /).isVisible()).toBe(true);
    expect((await page.locator('.turn.assistant .text').textContent())!.trim().length).toBeGreaterThan(0);

    app.expectOnlyOrigins();
    expect(app.errors).toEqual([]);
  });
});

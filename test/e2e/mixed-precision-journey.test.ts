import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { FIXTURES } from './app-helpers.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';

/**
 * Mixed precision as a person asks for it: `bits5` typed as the recipe needs calibration text
 * (the picker appears), compresses on pasted stories, and the report shows the bits per
 * weight it reached and, beside the error chart, the width chosen for each matrix.
 */
describe('mixed precision in the app', () => {
  it('bits5 on pasted stories: the report shows the width of every matrix beside the error chart', async () => {
    const app = await ShrinkrayPage.open(inject('appUrl'));
    const { page } = app;
    await app.chooseDemo();

    await app.recipe.fill('bits5');
    await app.calibrationPicker.waitFor();
    // Ten of the calibration stories: a few windows, so the sensitivities are measured quickly.
    const stories = (await readFile(resolve(FIXTURES, 'text', 'tinystories_calibration.txt'), 'utf8'))
      .split('<|endoftext|>')
      .slice(0, 10)
      .join('<|endoftext|>');
    await app.pasteCalibration(stories);
    await app.compress('stories260K (demo) · bits5');

    expect(await page.getByTestId('mixed-precision').textContent()).toMatch(/^[45]\.\d\d bits per linear weight \(budget 5: /);
    const grid = page.locator('figure.widths');
    await grid.waitFor();
    expect(await grid.locator('tbody tr').count()).toBe(5); // one row per block
    expect(await grid.locator('tbody td').count()).toBe(35); // and a cell per matrix
    expect(await grid.locator('tbody td').first().getAttribute('title')).toMatch(/^layer 0 q_proj: int\d-g\d+(-asym)?|fp16$/);
    await app.perplexity();
    await app.checkScreen('shrink-report-mixed');

    app.expectOnlyOrigins();
    expect(app.errors).toEqual([]);
  });
});

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { launchApp } from './app-browser.ts';
import { checkScreen, expectOnlyOrigins, FIXTURES } from './app-helpers.ts';

/**
 * Mixed precision as a person asks for it: `bits5` typed as the recipe needs calibration text
 * (the picker appears), compresses on pasted stories, and the report shows the bits per
 * weight it reached and, beside the error chart, the width chosen for each matrix.
 */
describe('mixed precision in the app', () => {
  it('bits5 on pasted stories: the report shows the width of every matrix beside the error chart', async () => {
    const appUrl = inject('appUrl');
    const app = await launchApp(appUrl);
    const { page } = app;
    await expect.poll(() => page.getByRole('button', { name: /Use the demo model/ }).isEnabled()).toBe(true);
    await page.getByRole('button', { name: /Use the demo model/ }).click();
    await page.getByRole('heading', { name: 'Shrink it' }).waitFor();

    await page.getByLabel('Recipe (advanced: steps joined by +)').fill('bits5');
    const picker = page.getByRole('group', { name: 'Calibration text' });
    await picker.waitFor();
    // Ten of the calibration stories: a few windows, so the sensitivities are measured quickly.
    const stories = (await readFile(resolve(FIXTURES, 'text', 'tinystories_calibration.txt'), 'utf8'))
      .split('<|endoftext|>')
      .slice(0, 10)
      .join('<|endoftext|>');
    await picker.getByLabel('Text I paste').check();
    await page.getByLabel(/Your calibration text/).fill(stories);
    await page.getByRole('button', { name: 'Compress', exact: true }).click();
    await page.getByRole('heading', { name: 'Report: stories260K (demo) · bits5' }).waitFor({ timeout: 300_000 });

    expect(await page.getByTestId('mixed-precision').textContent()).toMatch(/^[45]\.\d\d bits per linear weight \(budget 5: /);
    const grid = page.locator('figure.widths');
    await grid.waitFor();
    expect(await grid.locator('tbody tr').count()).toBe(5); // one row per block
    expect(await grid.locator('tbody td').count()).toBe(35); // and a cell per matrix
    expect(await grid.locator('tbody td').first().getAttribute('title')).toMatch(/^layer 0 q_proj: int\d-g\d+(-asym)?|fp16$/);
    await page.getByTestId('ppl-after').waitFor({ timeout: 180_000 });
    await checkScreen(page, 'shrink-report-mixed');

    expectOnlyOrigins(app, [new URL(appUrl).origin]);
    expect(app.errors).toEqual([]);
  });
});

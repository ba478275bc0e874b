import { describe, expect, inject, it } from 'vitest';
import { launchApp } from './app-browser.ts';
import { checkScreen, expectOnlyOrigins } from './app-helpers.ts';

/**
 * Layer removal the way a person asks for it: `drop1+int8` typed as a recipe, chosen by SLEB on the
 * demo's built-in calibration stories; the report names the removed block and shows the
 * calibration loss without each block, the model has 4 of the demo's 5 blocks, and it is measured on the CPU engine.
 */
describe('layer removal in the app', () => {
  it('drop1+int8: the calibration picker, a report naming the removed block with the loss without each block, measured', async () => {
    const appUrl = inject('appUrl');
    const app = await launchApp(appUrl);
    const { page } = app;
    await expect.poll(() => page.getByRole('button', { name: /Use the demo model/ }).isEnabled()).toBe(true);
    await page.getByRole('button', { name: /Use the demo model/ }).click();
    await page.getByRole('heading', { name: 'Shrink it' }).waitFor();

    await page.getByLabel('Recipe (advanced: steps joined by +)').fill('int8+drop1');
    const picker = page.getByRole('group', { name: 'Calibration text' });
    await picker.waitFor();
    expect(await picker.getByLabel(/Built in: TinyStories calibration stories/).isChecked()).toBe(true);

    await page.getByRole('button', { name: 'Compress', exact: true }).click();
    await page.getByRole('heading', { name: 'Report: stories260K (demo) · drop1+int8-g32' }).waitFor({ timeout: 180_000 });
    expect(await page.getByTestId('removed-blocks').textContent()).toMatch(
      /^block [0-4] \(of 0–4\): greedily, the least calibration loss \(SLEB\)$/,
    );
    const losses = await page.getByTestId('block-losses').locator('li').allTextContents();
    expect(losses).toHaveLength(5);
    expect(losses.filter((s) => s.endsWith(' removed (round 1)'))).toHaveLength(1);
    await page.getByTestId('ppl-after').waitFor({ timeout: 120_000 });
    expect(await page.locator('.report-eval caption').textContent()).toMatch(/ · CPU engine \((relaxed|WASM) SIMD\), \d threads? · /);
    await checkScreen(page, 'shrink-report-drop');

    expectOnlyOrigins(app, [new URL(appUrl).origin]);
    expect(app.errors).toEqual([]);
  });
});

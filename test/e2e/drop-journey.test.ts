import { describe, expect, inject, it } from 'vitest';
import { ShrinkrayPage } from './shrinkray-page.ts';

/**
 * Layer removal the way a person asks for it: `drop1+int8` typed as a recipe, chosen by SLEB on the
 * demo's built-in calibration stories; the report names the removed block and shows the
 * calibration loss without each block, the model has 4 of the demo's 5 blocks, and it is measured on the CPU engine.
 */
describe('layer removal in the app', () => {
  it('drop1+int8: the calibration picker, a report naming the removed block with the loss without each block, measured', async () => {
    const app = await ShrinkrayPage.open(inject('appUrl'));
    const { page } = app;
    await app.chooseDemo();

    await app.recipe.fill('int8+drop1');
    await app.calibrationPicker.waitFor();
    expect(await app.calibrationPicker.getByLabel(/Built in: TinyStories calibration stories/).isChecked()).toBe(true);

    await app.compress('stories260K (demo) · drop1+int8-g32');
    expect(await page.getByTestId('removed-blocks').textContent()).toMatch(
      /^block [0-4] \(of 0–4\): greedily, the least calibration loss \(SLEB\)$/,
    );
    const losses = await page.getByTestId('block-losses').locator('li').allTextContents();
    expect(losses).toHaveLength(5);
    expect(losses.filter((s) => s.endsWith(' removed (round 1)'))).toHaveLength(1);
    await app.perplexity();
    expect(await page.locator('.report-eval caption').textContent()).toMatch(/ · CPU engine \((relaxed|WASM) SIMD\), \d threads? · /);
    await app.checkScreen('shrink-report-drop');

    app.expectOnlyOrigins();
    expect(app.errors).toEqual([]);
  });
});

import { describe, expect, inject, it } from 'vitest';
import { launchApp } from './app-browser.ts';
import { checkScreen, expectedGreedyText, expectOnlyOrigins, openScreen } from './app-helpers.ts';

/**
 * "Original, drafted by the compressed model": the demo compressed with int4-g32, then the chat
 * runs the original with the compressed model as its draft, side by side with the original
 * alone. Greedy, the two replies are the same text (the one the fixtures README documents), and
 * the drafted reply's status line gives the acceptance and the original's passes per token.
 */
describe('drafted chat', () => {
  it('the original drafted by its int4-g32 copy replies exactly as the original alone', async () => {
    const appUrl = inject('appUrl');
    const app = await launchApp(appUrl);
    const { page } = app;
    await expect.poll(() => page.getByRole('button', { name: /Use the demo model/ }).isEnabled()).toBe(true);
    await page.getByRole('button', { name: /Use the demo model/ }).click();
    await page.getByRole('heading', { name: 'Shrink it' }).waitFor();
    await page.getByLabel('Recipe (advanced: steps joined by +)').fill('int4-g32');
    await expect.poll(() => page.locator('#recipe-check').textContent()).toMatch(/^Valid: int4-g32/);
    await page.getByRole('button', { name: 'Compress', exact: true }).click();
    await page.getByRole('heading', { name: 'Report: stories260K (demo) · int4-g32' }).waitFor({ timeout: 60_000 });
    await page.getByTestId('ppl-after').waitFor({ timeout: 120_000 });

    await openScreen(page, '3. Chat');
    expect(await page.getByRole('combobox', { name: 'Model' }).inputValue()).toBe('compressed:demo:stories260K:int4-g32');
    await page.getByText(/^Settings:/).click();
    await page.getByLabel('Temperature (0 = greedy)').fill('0');
    await page.getByLabel('Temperature (0 = greedy)').press('Tab');
    await page.getByLabel('Max new tokens').fill('60');
    await page.getByLabel('Max new tokens').press('Tab');
    await page.getByText(/^Settings:/).click();
    await page.getByLabel('Original, drafted by the compressed model').check();
    await page.getByLabel(/Side by side with the original/).check();
    const drafted = page.getByRole('region', { name: 'Original, drafted by the compressed model' });
    const plain = page.getByRole('region', { name: 'Original', exact: true });
    await expect
      .poll(() => drafted.getByRole('heading').textContent())
      .toBe('Original, drafted by the compressed model: stories260K (demo)');
    await expect
      .poll(() => drafted.getByText(/ · drafted by stories260K \(demo\) · int4-g32 · /).isVisible(), { timeout: 60_000 })
      .toBe(true);

    await page.getByRole('button', { name: 'Send' }).click(); // an empty prompt: a completion from BOS
    await expect.poll(() => page.locator('.turn.assistant .small').count(), { timeout: 60_000 }).toBe(2);
    const draftedText = await drafted.locator('.turn.assistant .text').textContent();
    const plainText = await plain.locator('.turn.assistant .text').textContent();
    expect(draftedText).toBe(plainText);
    expect(draftedText!.trim().startsWith((await expectedGreedyText()).slice(0, 120))).toBe(true);
    const stats = (await drafted.locator('.turn.assistant .small').textContent())!;
    const m =
      /^60 tokens · [\d.]+ tokens\/s · hit the token limit · (\d+)% of drafted tokens accepted · ([\d.]+) passes of the original per token$/.exec(
        stats,
      );
    expect(m, stats).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeLessThan(1);
    expect(await plain.locator('.turn.assistant .small').textContent()).not.toMatch(/drafted/);
    await checkScreen(page, 'chat-drafted');

    expectOnlyOrigins(app, [new URL(appUrl).origin]);
    expect(app.errors).toEqual([]);
  });
});

import { describe, expect, inject, it } from 'vitest';
import { expectedGreedyText } from './app-helpers.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * "Original, drafted by the compressed model": the demo compressed with int4-g32, then the chat
 * runs the original with the compressed model as its draft, side by side with the original
 * alone. Greedy, the two replies are the same text (the one the fixtures README documents), and
 * the drafted reply's status line gives the acceptance and the original's passes per token.
 */
describe('drafted chat', () => {
  it('the original drafted by its int4-g32 copy replies exactly as the original alone', async () => {
    const app = await ShrinkrayPage.open(inject('appUrl'));
    const { page } = app;
    await app.chooseDemo();
    await app.setRecipe('int4-g32');
    await app.compress('stories260K (demo) · int4-g32');
    await app.perplexity();

    await app.openScreen('3. Chat');
    expect(await app.chatModel.inputValue()).toBe('compressed:demo:stories260K:int4-g32');
    await app.chatSettings({ temperature: 0, maxNewTokens: 60 });
    await page.getByLabel('Original, drafted by the compressed model').check();
    await page.getByLabel(/Side by side with the original/).check();
    const drafted = page.getByRole('region', { name: 'Original, drafted by the compressed model' });
    const plain = page.getByRole('region', { name: 'Original', exact: true });
    await expect
      .poll(() => drafted.getByRole('heading').textContent())
      .toBe('Original, drafted by the compressed model: stories260K (demo)');
    await expect
      .poll(() => drafted.getByText(/ · drafted by stories260K \(demo\) · int4-g32 · /).isVisible(), { timeout: PAGE_WAIT_MS })
      .toBe(true);

    await app.send('', 2); // an empty prompt: a completion from BOS
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
    await app.checkScreen('chat-drafted');

    app.expectOnlyOrigins();
    expect(app.errors).toEqual([]);
  });
});

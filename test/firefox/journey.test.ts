import { describe, expect, inject, it } from 'vitest';
import { expectedGreedyText } from '../e2e/app-helpers.ts';
import { FirefoxShrinkrayPage } from './firefox-page.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * The main journey in Firefox ESR with default prefs, in the steps Chromium's journeys take
 * (test/e2e/journey-steps.ts): the demo, the default preset, the report (perplexity as the
 * fixtures README computed it outside the project), the stored models (the persistent-storage
 * prompt is open and unanswered: nothing waited on it), a greedy chat with the original beside
 * the compressed model, then the original drafted by its compressed copy (the same reply).
 */
const panes = (page: FirefoxShrinkrayPage['page']) =>
  page.evaluate(() =>
    [...document.querySelectorAll('section.pane')].map((p) => ({
      label: p.getAttribute('aria-label'),
      text: p.querySelector('.turn.assistant .text')?.textContent ?? '',
      status: p.querySelector('.turn.assistant .small')?.textContent ?? '',
      runsOn: p.querySelector('.muted')?.textContent ?? '',
    })),
  );

describe('Firefox: the journey', () => {
  it('demo -> int4-g32+emb8 -> report -> stored models -> chat side by side -> drafted chat', async () => {
    const app = await FirefoxShrinkrayPage.open(inject('appUrl'));
    const { page } = app;
    const started = Date.now();
    await app.demoReady();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await app.checkScreen('model-empty');

    await app.chooseDemo(); // within 30 s: no wait on the storage prompt
    expect(await page.evaluate(() => (document.getElementById('recipe-text') as HTMLInputElement).value)).toBe('int4-g32+emb8');
    await app.checkScreen('shrink-recipe');

    const compressStart = Date.now();
    await app.compress('stories260K (demo) · int4-g32+emb8');
    const compressMs = Date.now() - compressStart;
    const ppl = await app.perplexity();
    expect(ppl.before).toBeCloseTo(3.548, 3); // the same figure as in Chromium and the fixtures README
    expect(ppl.after / ppl.before).toBeGreaterThan(1);
    expect(ppl.after / ppl.before).toBeLessThan(1.16);
    await app.checkScreen('shrink-report');

    await app.openScreen('Stored models');
    await expect.poll(() => app.storedModelNames()).toEqual(['stories260K (demo)', 'stories260K (demo) · int4-g32+emb8']);
    // Firefox's prompt is open and unanswered (default prefs): the screen says so and offers to ask again.
    expect(await page.evaluate(() => document.querySelector('[data-testid="persistence"]')?.getAttribute('data-state'))).toBe('asking');
    await app.checkScreen('models');

    await app.openScreen('3. Chat');
    await app.heading('Chat');
    await app.chatSettings({ temperature: 0, maxNewTokens: 60 });
    await app.check('Side by side with the original');
    await app.send('', 2); // an empty prompt: a completion from BOS
    const [compressed, original] = await panes(page);
    const expected = await expectedGreedyText();
    expect(original!.text.trim().slice(0, 120)).toBe(expected.slice(0, 120)); // the engine's numerics in Firefox
    // int4 with 8-bit embeddings keeps the fp32 story's first two sentences (as int4-g32 does in Chromium).
    expect(compressed!.text.trim().startsWith(expected.slice(0, expected.indexOf('park.') + 5))).toBe(true);
    expect(compressed!.status).toMatch(/^60 tokens · [\d.]+ tokens\/s/);
    await app.checkScreen('chat');

    // The original drafted by the compressed copy, beside the original alone: greedy, the same text.
    await app.check('Original, drafted by the compressed model');
    await expect
      .poll(async () => (await panes(page))[0]!.runsOn, { timeout: PAGE_WAIT_MS })
      .toMatch(/ · drafted by stories260K \(demo\) · int4-g32\+emb8 · /);
    await app.send('', 2);
    const [drafted, plain] = await panes(page);
    expect(drafted!.label).toBe('Original, drafted by the compressed model');
    expect(drafted!.text).toBe(plain!.text);
    expect(drafted!.text.trim().startsWith(expected.slice(0, 120))).toBe(true);
    expect(drafted!.status).toMatch(
      /^60 tokens · [\d.]+ tokens\/s · hit the token limit · \d+% of drafted tokens accepted · [\d.]+ passes/,
    );
    await app.checkScreen('chat-drafted');

    console.log(
      `Firefox journey: ${((Date.now() - started) / 1000).toFixed(1)} s, compression ${compressMs} ms, ppl ${ppl.before} -> ${ppl.after}`,
    );
    expect(app.errors).toEqual([]);
  });
});

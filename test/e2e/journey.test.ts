import { describe, expect, inject, it } from 'vitest';
import { launchApp } from './app-browser.ts';
import { waitForController } from './pwa-page.ts';
import { checkScreen, exactBytesIn, expectedGreedyText, expectOnlyOrigins, numberIn, openScreen, storedFiles } from './app-helpers.ts';

/**
 * The journey a person takes: open the page, compress the bundled demo with int4-g32, read
 * the report (sizes match the stored files; perplexity on the sample stories as the fixtures
 * README computed it outside the project), chat (greedy output as documented), with axe-core
 * and screenshots on every screen and no request anywhere but the app's origin; then offline,
 * after a reload, the compressed model is still listed and chats again.
 */
describe('the journey', () => {
  it('demo -> int4-g32 -> report -> chat -> offline reload -> chat', async () => {
    const appUrl = inject('appUrl');
    const app = await launchApp(appUrl);
    const { page } = app;
    await expect.poll(() => page.getByRole('button', { name: /Use the demo model/ }).isEnabled()).toBe(true);
    await checkScreen(page, 'model-empty');
    await openScreen(page, '3. Chat');
    await expect.poll(() => page.getByText('No model is stored yet').isVisible()).toBe(true);
    await checkScreen(page, 'chat-empty');
    await openScreen(page, /Stored models/);
    await checkScreen(page, 'models-empty');
    await openScreen(page, '1. Model');

    await page.getByRole('button', { name: /Use the demo model/ }).click();
    await page.getByRole('heading', { name: 'Shrink it' }).waitFor();
    await expect.poll(() => page.getByText('LlamaForCausalLM: 5 layers').isVisible()).toBe(true);
    const recipe = page.getByLabel('Recipe (advanced: steps joined by +)');
    // Checked against the model as it is typed: block 128 is wider than the model's layers.
    await recipe.fill('int4-g128');
    await expect.poll(() => page.locator('#recipe-check').textContent()).toContain('block size 128 is larger than layer input size 64');
    expect(await recipe.getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByRole('button', { name: 'Compress', exact: true }).isDisabled()).toBe(true);
    await recipe.fill('int4-g32');
    await expect.poll(() => page.locator('#recipe-check').textContent()).toMatch(/^Valid: int4-g32/);
    await checkScreen(page, 'shrink-recipe');

    await page.getByRole('button', { name: 'Compress', exact: true }).click();
    await page.getByRole('heading', { name: 'Report: stories260K (demo) · int4-g32' }).waitFor({ timeout: 60_000 });
    await page.getByTestId('ppl-after').waitFor({ timeout: 120_000 });
    const pplBefore = await numberIn(page, 'ppl-before');
    const pplAfter = await numberIn(page, 'ppl-after');
    const before = await exactBytesIn(page, 'bytes-before');
    const after = await exactBytesIn(page, 'bytes-after');
    expect(pplBefore).toBeCloseTo(3.548, 3);
    expect(Math.abs(pplAfter - 4.08)).toBeLessThanOrEqual(0.01);
    await checkScreen(page, 'shrink-report');

    // The report's sizes are the stored files' sizes.
    await openScreen(page, /Stored models/);
    for (const summary of await page.locator('.files-detail summary').all()) await summary.click();
    const demoFiles = await storedFiles(page, 'stories260K (demo)');
    const int4Files = await storedFiles(page, 'stories260K (demo) · int4-g32');
    expect(before).toBe(demoFiles.get('model.safetensors'));
    const onnx = [...int4Files].filter(([path]) => path.startsWith('onnx/')).reduce((s, [, n]) => s + n, 0);
    expect(after).toBe(onnx);
    expect([...int4Files.keys()].sort()).toEqual([
      'config.json',
      'generation_config.json',
      'onnx/model.onnx',
      'shrinkray.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    await checkScreen(page, 'models');

    // Chat, greedy, side by side with the original: the same prompt in two workers.
    await openScreen(page, '3. Chat');
    await page.getByText(/^Settings:/).click();
    await page.getByLabel('Temperature (0 = greedy)').fill('0');
    await page.getByLabel('Temperature (0 = greedy)').press('Tab');
    await page.getByLabel('Max new tokens').fill('60');
    await page.getByLabel('Max new tokens').press('Tab');
    await page.getByLabel(/Side by side with the original/).check();
    await page.getByRole('button', { name: 'Send' }).click(); // an empty prompt: a completion from BOS
    const replies = page.locator('.turn.assistant');
    await expect.poll(() => page.locator('.turn.assistant .small').count(), { timeout: 60_000 }).toBe(2);
    const [compressed, original] = await replies.locator('.text').allTextContents();
    const expected = await expectedGreedyText();
    expect(original!.trim().startsWith(expected.slice(0, 120))).toBe(true);
    // int4 keeps the first two sentences of the fp32 story (it drifts after 'One day, she saw a big').
    expect(compressed!.trim().startsWith(expected.slice(0, expected.indexOf('park.') + 5))).toBe(true);
    expect(await page.locator('.turn.assistant .small').first().textContent()).toMatch(/60 tokens · [\d.]+ tokens\/s/);
    await checkScreen(page, 'chat');

    // Offline: the service worker serves the app, IndexedDB the models; the compressed model is
    // still listed and chats again, greedily, with the same words.
    await waitForController(page);
    await app.context.setOffline(true);
    await page.reload();
    await openScreen(page, /Stored models/);
    await expect
      .poll(() => page.locator('.model-row strong').allTextContents())
      .toEqual(['stories260K (demo)', 'stories260K (demo) · int4-g32']);
    await openScreen(page, '3. Chat');
    expect(await page.getByRole('combobox', { name: 'Model' }).inputValue()).toBe('compressed:demo:stories260K:int4-g32');
    await page.getByText(/^Settings:/).click();
    await page.getByLabel('Temperature (0 = greedy)').fill('0');
    await page.getByLabel('Temperature (0 = greedy)').press('Tab');
    await page.getByLabel('Max new tokens').fill('60');
    await page.getByLabel('Max new tokens').press('Tab');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.turn.assistant .small').count(), { timeout: 60_000 }).toBe(1);
    expect(await page.locator('.turn.assistant .text').textContent()).toBe(compressed);
    await checkScreen(page, 'chat-offline');

    expectOnlyOrigins(app, [new URL(appUrl).origin]);
    // Offline, the demo probe (not cached: models live in IndexedDB) fails to load, as it should.
    expect(app.errors.filter((e) => !e.endsWith('net::ERR_INTERNET_DISCONNECTED'))).toEqual([]);
  });
});

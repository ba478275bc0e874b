import { describe, expect, inject, it } from 'vitest';
import { expectedGreedyText } from './app-helpers.ts';
import { waitForController } from './pwa-page.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';

/**
 * The journey a person takes: open the page, compress the bundled demo with int4-g32, read
 * the report (sizes match the stored files; perplexity on the sample stories as the fixtures
 * README computed it outside the project), chat (greedy output as documented), with axe-core
 * and screenshots on every screen and no request anywhere but the app's origin; then offline,
 * after a reload, the compressed model is still listed and chats again.
 */
describe('the journey', () => {
  it('demo -> int4-g32 -> report -> chat -> offline reload -> chat', async () => {
    const app = await ShrinkrayPage.open(inject('appUrl'));
    const { page } = app;
    await app.demoReady();
    await app.checkScreen('model-empty');
    await app.openScreen('3. Chat');
    await expect.poll(() => page.getByText('No model is stored yet').isVisible()).toBe(true);
    await app.checkScreen('chat-empty');
    await app.openScreen(/Stored models/);
    await app.checkScreen('models-empty');
    await app.openScreen('1. Model');

    await app.chooseDemo();
    await expect.poll(() => page.getByText('LlamaForCausalLM: 5 layers').isVisible()).toBe(true);
    // Checked against the model as it is typed: block 128 is wider than the model's layers.
    await app.recipe.fill('int4-g128');
    await expect.poll(() => page.locator('#recipe-check').textContent()).toContain('block size 128 is larger than layer input size 64');
    expect(await app.recipe.getAttribute('aria-invalid')).toBe('true');
    expect(await app.compressButton.isDisabled()).toBe(true);
    await app.setRecipe('int4-g32');
    expect(await page.locator('#recipe-check').textContent()).toMatch(/^Valid: int4-g32/);
    await app.checkScreen('shrink-recipe');

    await app.compress('stories260K (demo) · int4-g32');
    const ppl = await app.perplexity();
    const before = await app.exactBytesIn('bytes-before');
    const after = await app.exactBytesIn('bytes-after');
    expect(ppl.before).toBeCloseTo(3.548, 3);
    expect(Math.abs(ppl.after - 4.08)).toBeLessThanOrEqual(0.01);
    await app.checkScreen('shrink-report');

    // The report's sizes are the stored files' sizes.
    await app.openScreen(/Stored models/);
    const demoFiles = await app.storedFiles('stories260K (demo)');
    const int4Files = await app.storedFiles('stories260K (demo) · int4-g32');
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
    await app.checkScreen('models');

    // Chat, greedy, side by side with the original: the same prompt in two workers.
    await app.openScreen('3. Chat');
    await app.chatSettings({ temperature: 0, maxNewTokens: 60 });
    await page.getByLabel(/Side by side with the original/).check();
    await app.send('', 2); // an empty prompt: a completion from BOS
    const [compressed, original] = await page.locator('.turn.assistant .text').allTextContents();
    const expected = await expectedGreedyText();
    expect(original!.trim().startsWith(expected.slice(0, 120))).toBe(true);
    // int4 keeps the first two sentences of the fp32 story (it drifts after 'One day, she saw a big').
    expect(compressed!.trim().startsWith(expected.slice(0, expected.indexOf('park.') + 5))).toBe(true);
    expect(await app.replyStatus.first().textContent()).toMatch(/60 tokens · [\d.]+ tokens\/s/);
    await app.checkScreen('chat');

    // Offline: the service worker serves the app, IndexedDB the models; the compressed model is
    // still listed and chats again, greedily, with the same words.
    await waitForController(page);
    await app.app.context.setOffline(true);
    await page.reload();
    await app.openScreen(/Stored models/);
    await expect.poll(() => app.storedModelNames()).toEqual(['stories260K (demo)', 'stories260K (demo) · int4-g32']);
    await app.openScreen('3. Chat');
    expect(await app.chatModel.inputValue()).toBe('compressed:demo:stories260K:int4-g32');
    await app.chatSettings({ temperature: 0, maxNewTokens: 60 });
    await app.send('', 1);
    expect(await page.locator('.turn.assistant .text').textContent()).toBe(compressed);
    await app.checkScreen('chat-offline');

    app.expectOnlyOrigins();
    // Offline, the demo probe (not cached: models live in IndexedDB) fails to load, as it should.
    expect(app.errors.filter((e) => !e.endsWith('net::ERR_INTERNET_DISCONNECTED'))).toEqual([]);
  });
});

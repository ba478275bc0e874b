import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ShrinkrayPage } from './shrinkray-page.ts';

/**
 * No script runs from text: markup in a chat message and in a model's config.json (an
 * architecture named like an <img> tag) is shown as the characters it is, and its onerror
 * never runs.
 */
const PAYLOAD = '<img src=x onerror=window.__x=1>';

describe('text is never HTML', () => {
  let scratch = '';
  afterEach(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('shows a chat message and a config architecture with markup as text', async () => {
    const app = await ShrinkrayPage.open(inject('appUrl'));
    const { page } = app;

    scratch = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-xss-'));
    const folder = join(scratch, 'odd-model');
    await mkdir(folder);
    await copyFile(resolve('public/models/stories260K/model.safetensors'), join(folder, 'model.safetensors'));
    await copyFile(resolve('public/models/stories260K/tokenizer.json'), join(folder, 'tokenizer.json'));
    await writeFile(join(folder, 'config.json'), JSON.stringify({ architectures: [PAYLOAD], hidden_size: 64 }));
    await page.getByLabel('Choose a folder…').setInputFiles(folder);
    const alert = page.getByRole('alert').filter({ hasText: 'failed' });
    await alert.waitFor();
    expect(await alert.textContent()).toContain(`architecture '${PAYLOAD}' is not supported`);
    expect(await alert.locator('img').count()).toBe(0);

    await app.chooseDemo();
    await app.openScreen('3. Chat');
    await app.chatSettings({ maxNewTokens: 5 });
    await app.send(PAYLOAD);
    expect(await page.locator('.turn.user .text').textContent()).toBe(PAYLOAD);
    expect(await page.locator('.turns img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __x?: unknown }).__x)).toBeUndefined();
    expect(app.errors).toEqual([]);
  });
});

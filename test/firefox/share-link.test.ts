import { describe, expect, inject, it } from 'vitest';
import { expectedGreedyText } from '../e2e/app-helpers.ts';
import { SHARE_LINK_FOLDERS, SHARE_LINK_REPO } from '../hub/hub-repos.ts';
import { clickButton, waitFor } from './firefox-app.ts';
import { FirefoxShrinkrayPage } from './firefox-page.ts';

/**
 * Chromium's share-link journey (test/e2e/share-link.test.ts) in Firefox: `?model=<folder URL>`
 * of a compressed stories260K on the loopback hub opens the chat with the model loaded, no click
 * on the way, and it replies greedily; Copy link on the stored-models screen confirms the copy.
 */
describe('Firefox: a share link', () => {
  it('?model=<compressed folder URL> lands in chat and replies greedily; Copy link copies', async () => {
    const folder = `${inject('e2eHubUrl')}/${SHARE_LINK_REPO}/resolve/main/${SHARE_LINK_FOLDERS.good}/`;
    const app = await FirefoxShrinkrayPage.open(`${inject('appUrl')}/?model=${encodeURIComponent(folder)}`);
    const { page } = app;
    await app.heading('Chat');
    await waitFor(page, () => / · loaded in [\d.]+ s/.test(document.body.innerText), 'the model loaded');
    await app.chatSettings({ temperature: 0, maxNewTokens: 60 });
    await app.send('');
    const reply = (await page.evaluate(() => document.querySelector('.turn.assistant .text')?.textContent ?? '')).trim();
    const expected = await expectedGreedyText();
    expect(reply.startsWith(expected.slice(0, expected.indexOf('park.') + 5))).toBe(true);
    await app.checkScreen('chat-share-link');

    await app.openScreen('Stored models');
    await clickButton(page, 'Copy link');
    // Firefox lets the page write the clipboard on a click, but not read it back: Chromium's test reads the link.
    await waitFor(page, () => document.querySelector('.copy-status')?.textContent === 'Link copied.', 'the copy confirmed', 20_000);
    await app.checkScreen('models-share-link');
    expect(app.errors).toEqual([]);
  });
});

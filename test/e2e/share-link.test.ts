import { describe, expect, inject, it } from 'vitest';
import { expectedGreedyText } from './app-helpers.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';
import { SHARE_LINK_FOLDERS, SHARE_LINK_REPO } from '../hub/hub-repos.ts';
import { FIXTURE_TEXT_REPO } from '../hub/hub-worker-fixtures.ts';

/**
 * A share link to a compressed model: `?model=<folder URL>` (here stories260K compressed with
 * int4-g32 by the CLI, served as a subfolder of a loopback hub repo) opens the chat with the
 * model stored and loaded, no click on the way; the stored-models screen copies the same link;
 * following it again downloads nothing. A link to a folder that is not a model says why.
 */
describe('share links', () => {
  it('?model=<compressed folder URL> lands in chat with the model loaded and replies greedily; Copy link gives the link back', async () => {
    const appUrl = inject('appUrl');
    const hubUrl = inject('e2eHubUrl');
    const folder = `${hubUrl}/${SHARE_LINK_REPO}/resolve/main/${SHARE_LINK_FOLDERS.good}/`;
    const link = `${appUrl}/?model=${encodeURIComponent(folder)}`;
    const app = await ShrinkrayPage.open(link);
    const { page } = app;
    await page.getByRole('heading', { name: 'Chat', exact: true }).waitFor({ timeout: PAGE_WAIT_MS });
    await page.getByText(/ · loaded in [\d.]+ s/).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await app.chatModel.inputValue()).toBe(`url:${folder}`);
    await app.chatSettings({ temperature: 0, maxNewTokens: 60 });
    await app.send('');
    const reply = (await page.locator('.turn.assistant .text').textContent())!.trim();
    const expected = await expectedGreedyText();
    // int4-g32 keeps the fp32 story up to 'park.' (test/e2e/journey.test.ts)
    expect(reply.startsWith(expected.slice(0, expected.indexOf('park.') + 5))).toBe(true);
    await app.checkScreen('chat-share-link');

    await app.openScreen(/Stored models/);
    expect(await app.storedModelNames()).toEqual([`${SHARE_LINK_REPO}/${SHARE_LINK_FOLDERS.good} (url)`]);
    await expect.poll(() => page.getByText(`fetched from ${folder} · recipe int4-g32`, { exact: false }).isVisible()).toBe(true);
    await app.app.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: appUrl });
    await page.getByRole('button', { name: /^Copy link to / }).click();
    await page.getByText('Link copied.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
    await app.checkScreen('models-share-link');

    // The clipboard refused (the browser's permission denied): the link is shown, selected, to copy by hand.
    const cdp = await app.app.context.newCDPSession(page);
    await cdp.send('Browser.setPermission', { permission: { name: 'clipboard-write' }, setting: 'denied', origin: appUrl });
    await page.getByRole('button', { name: /^Copy link to / }).click();
    const field = page.getByLabel(/The browser did not allow copying/);
    await field.waitFor();
    expect(await field.inputValue()).toBe(link);
    expect(await field.evaluate((el: HTMLInputElement) => [el.selectionStart, el.selectionEnd])).toEqual([0, link.length]);
    await app.checkScreen('models-share-link-refused');

    // Followed again: the stored copy opens, nothing is fetched from the folder.
    const before = app.app.requests.length;
    await page.goto(link);
    await page.getByText(/ · loaded in [\d.]+ s/).waitFor({ timeout: PAGE_WAIT_MS });
    expect(app.app.requests.slice(before).filter((u) => u.startsWith(folder))).toEqual([]);
    app.expectOnlyOrigins(hubUrl);
    expect(app.errors).toEqual([]);
  });

  it('a link to a folder that is not a model is refused on the model screen, naming the URL and what is missing', async () => {
    const hubUrl = inject('e2eHubUrl');
    const folder = `${hubUrl}/${FIXTURE_TEXT_REPO}/resolve/main/`;
    const app = await ShrinkrayPage.open(`${inject('appUrl')}/?model=${encodeURIComponent(folder)}`);
    const { page } = app;
    const alert = page.getByRole('alert').filter({ hasText: `Opening the shared model ${FIXTURE_TEXT_REPO} failed: ` });
    await alert.waitFor({ timeout: PAGE_WAIT_MS });
    expect(await alert.textContent()).toContain(`${folder} is not a model folder Shrinkray compressed`);
    expect(await alert.textContent()).toContain('it has no config.json (HTTP 404)');
    expect(await page.getByRole('heading', { name: 'Choose a model to shrink' }).isVisible()).toBe(true);
    await app.checkScreen('model-share-link-refused');
  });
});

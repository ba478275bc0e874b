import { describe, expect, inject, it } from 'vitest';
import { ShrinkrayPage } from './shrinkray-page.ts';
import { syntheticSmolLMRepo } from '../hub/hub-worker-fixtures.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';
import { HUB_GATED_TOKEN, HUB_REPOS } from '../hub/hub-repos.ts';
import { ownHub } from '../hub/own-hub.ts';

/** A link starts a demo: ?model=<repo or demo>&recipe=<recipe> opens with both chosen. */
describe('deep links', () => {
  it('?model=demo&recipe=int4-g32 stores the demo and opens the recipe screen with both chosen', async () => {
    const app = await ShrinkrayPage.open(`${inject('appUrl')}/?model=demo&recipe=int4-g32`);
    const { page } = app;
    await app.shrinkScreen();
    await expect.poll(() => page.getByText('LlamaForCausalLM: 5 layers').isVisible()).toBe(true);
    expect(await page.getByText('stories260K (demo)', { exact: true }).isVisible()).toBe(true);
    expect(await app.recipe.inputValue()).toBe('int4-g32');
    expect(await page.getByRole('radio', { name: /int4, fp32 embedding/ }).isChecked()).toBe(true);
    expect(await app.compressButton.isEnabled()).toBe(true);
    app.expectOnlyOrigins();
  });

  it('?model=<repo>&hub=<mirror>&recipe=int8 checks the repo on that hub and fetches no weights', async () => {
    const appUrl = inject('appUrl');
    const hubUrl = inject('e2eHubUrl');
    const repo = syntheticSmolLMRepo(4);
    const app = await ShrinkrayPage.open(`${appUrl}/?model=${encodeURIComponent(repo)}&hub=${encodeURIComponent(hubUrl)}&recipe=int8`);
    const { page } = app;
    await page.getByRole('table', { name: `Files of ${repo} on ${hubUrl}` }).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.getByLabel('Repo id').inputValue()).toBe(repo);
    expect(app.app.requests.filter((u) => u.endsWith('/model.safetensors'))).toEqual([]);
    await app.openScreen('2. Shrink');
    expect(await app.recipe.inputValue()).toBe('int8');
    app.expectOnlyOrigins(hubUrl);
  });
  it('a saved access token goes to its own hub only, not to another hub a link names', async () => {
    const appUrl = inject('appUrl');
    const savedFor = inject('e2eHubUrl');
    const other = await ownHub();
    const link = (hub: string) => `${appUrl}/?model=${encodeURIComponent(HUB_REPOS.gated)}&hub=${encodeURIComponent(hub)}`;
    const app = await ShrinkrayPage.open(appUrl);
    const { page } = app;
    await page.evaluate(
      ([hubUrl, token]) => localStorage.setItem('shrinkray.hubToken', JSON.stringify({ hubUrl, token })),
      [savedFor, HUB_GATED_TOKEN],
    );
    await page.goto(link(other));
    await page.getByRole('alert').waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.getByRole('alert').textContent()).toContain('HTTP 401');
    const log = ((await (await fetch(`${other}/__hub/stats`)).json()) as { log: string[] }).log;
    expect(log).toEqual([`GET ${HUB_REPOS.gated}/config.json authorization=- -> 401`]);
    await page.goto(link(savedFor));
    await page.getByRole('table', { name: `Files of ${HUB_REPOS.gated} on ${savedFor}` }).waitFor({ timeout: PAGE_WAIT_MS });
  });
});

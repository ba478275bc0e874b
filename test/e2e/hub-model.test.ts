import { describe, expect, inject, it } from 'vitest';
import { ShrinkrayPage } from './shrinkray-page.ts';
import { syntheticSmolLMRepo } from '../hub/hub-worker-fixtures.ts';
import { ownHub } from '../hub/own-hub.ts';
import { HUB_GATED_TOKEN, HUB_REPOS } from '../hub/hub-repos.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * A hub model through the page, from the loopback hub: SmolLM2-135M's shape with 4 layers
 * (~170 MB of fp32). It downloads with progress, is cancelled midway, resumes without
 * fetching again what it had, is cancelled mid-compression (nothing changes), compresses
 * and generates. The main thread's longest task while compressing is a figure of
 * `npm run bench pipeline-browser`, not a bound here: it moves with the machine's load.
 */
const REPO = syntheticSmolLMRepo(4);
const WEIGHTS = `${REPO}/model.safetensors`;

interface HubStats {
  bytesServed: Record<string, number>;
}

describe('a hub model through the page', () => {
  it('preflight, download with cancel and resume, cancelled and full compression, chat', async () => {
    const appUrl = inject('appUrl');
    const hubUrl = await ownHub(); // resets its counts and sets faults: not the hub other files use
    const hub = (what: string, body?: unknown) =>
      fetch(`${hubUrl}/__hub/${what}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    await hub('reset', {});
    const app = await ShrinkrayPage.open(appUrl);
    const { page } = app;

    // The hub address is a setting kept in localStorage.
    await page.getByText(/^Hub address:/).click();
    await page.getByLabel('Hub or mirror base URL').fill(hubUrl);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.reload();
    await expect.poll(() => page.getByText(`Hub address: ${hubUrl}`).isVisible()).toBe(true);

    // A gated repo: refused with what to do, the settings opened at the token; with the token saved it lists.
    await page.getByLabel('Repo id').fill(HUB_REPOS.gated);
    await page.getByRole('button', { name: 'Check files' }).click();
    await page.getByRole('alert').filter({ hasText: 'HTTP 401' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/the repo is gated: accept its terms on the hub/);
    await page.getByLabel('Access token for gated repos').fill(HUB_GATED_TOKEN);
    await page.getByRole('button', { name: 'Save token' }).click();
    await expect.poll(() => page.getByText(/access token …oken$/).isVisible()).toBe(true);
    // Saving the token checks the repo again.
    await page.getByRole('table', { name: `Files of ${HUB_REPOS.gated} on ${hubUrl}` }).waitFor();
    await app.checkScreen('model-hub-token');
    expect(await page.getByLabel('Access token for gated repos').inputValue()).toBe(''); // not shown again
    await page.getByRole('button', { name: 'Forget token' }).click();
    expect(await page.evaluate(() => Object.values(localStorage).join())).not.toContain(HUB_GATED_TOKEN);

    await page.getByLabel('Repo id').fill(REPO);
    await page.getByRole('button', { name: 'Check files' }).click();
    const table = page.getByRole('table', { name: `Files of ${REPO} on ${hubUrl}` });
    await table.waitFor();
    const size = Number(
      (await (await fetch(`${hubUrl}/api/models/${REPO}?blobs=true`)).json()).siblings.find(
        (s: { rfilename: string }) => s.rfilename === 'model.safetensors',
      ).size,
    );
    expect(await page.getByText('it fits.').isVisible()).toBe(true);
    expect(((await hub('stats').then((r) => r.json())) as HubStats).bytesServed[WEIGHTS] ?? 0).toBe(0); // no weight byte before the click
    await app.checkScreen('model-hub-preflight');

    // Slow the weights down so the download can be watched and cancelled midway.
    await hub('faults', { [WEIGHTS]: { bytesPerSecond: 25_000_000 } });
    await page.getByRole('button', { name: /^Download / }).click();
    const bar = page.locator('#job-download');
    await expect.poll(async () => Number(await bar.getAttribute('value')), { timeout: PAGE_WAIT_MS }).toBeGreaterThan(30);
    const detail = (await page.locator('.job-detail').textContent())!;
    expect(detail).toMatch(/^Downloading: [\d.]+ MB of [\d.]+ MB · [\d.]+ MB\/s · .+ left · model\.safetensors$/);
    await app.checkScreen('model-hub-downloading');
    await page
      .getByRole('group', { name: `Downloading ${REPO}` })
      .getByRole('button', { name: 'Cancel' })
      .click();
    await page.getByText(/cancelled\. The bytes fetched so far are kept/).waitFor();
    const resume = page.getByRole('button', { name: /^Resume download/ });
    await resume.waitFor();
    const servedAtCancel = ((await hub('idle').then((r) => r.json())) as HubStats).bytesServed[WEIGHTS]!;
    expect(servedAtCancel).toBeLessThan(size);

    await hub('faults', {});
    await resume.click();
    await page.getByRole('heading', { name: 'Shrink it' }).waitFor({ timeout: PAGE_WAIT_MS });
    const served = ((await hub('stats').then((r) => r.json())) as HubStats).bytesServed[WEIGHTS]!;
    // What was stored before the cancel is not fetched again: at most one range (~1/16) more than the file.
    expect(served).toBeLessThanOrEqual(size * 1.07);

    await app.openScreen(/Stored models/);
    await page.getByTestId('model-bytes').waitFor();
    const storedBefore = await page.getByTestId('model-bytes').getAttribute('title');
    const listBefore = await page.locator('.model-row strong').allTextContents();
    expect(listBefore).toEqual([REPO]);

    // Cancel a compression midway: the model list and the storage used stay as they were.
    await app.openScreen('2. Shrink');
    await page.getByLabel('Recipe (advanced: steps joined by +)').fill('int8');
    await page.getByRole('button', { name: 'Compress', exact: true }).click();
    await expect
      .poll(async () => /tensor (\d+) of/.exec((await page.locator('.job-detail').textContent()) ?? '')?.[1] ?? '0', {
        timeout: PAGE_WAIT_MS,
      })
      .toMatch(/^([5-9]|\d\d+)$/);
    await app.checkScreen('shrink-compressing'); // here, not below: axe and screenshots are long tasks of their own
    await page
      .getByRole('group', { name: /^Compressing / })
      .getByRole('button', { name: 'Cancel' })
      .click();
    await page.getByText(/cancelled\. Nothing was stored/).waitFor();
    await app.openScreen(/Stored models/);
    await expect.poll(() => page.getByTestId('model-bytes').getAttribute('title')).toBe(storedBefore);
    expect(await page.locator('.model-row strong').allTextContents()).toEqual(listBefore);
    expect(await page.getByTestId('staged-bytes').count()).toBe(0);

    // The full compression. How long the main thread is busy meanwhile depends on the machine's
    // load: `npm run bench pipeline-browser` reports the longest main-thread task; here the page
    // only has to reach the report.
    await app.openScreen('2. Shrink');
    await page.getByLabel('Recipe (advanced: steps joined by +)').fill('int4-g32+emb8');
    await page.getByRole('button', { name: 'Compress', exact: true }).click();
    await page.getByRole('heading', { name: `Report: ${REPO} · int4-g32+emb8` }).waitFor({ timeout: PAGE_WAIT_MS });

    // The evaluation starts on its own; cancelling it leaves the report as it was.
    await page
      .getByRole('group', { name: /^Measuring / })
      .getByRole('button', { name: 'Cancel' })
      .click();
    await page.getByText(/cancelled\. The report was left as it was/).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.getByText('Not measured yet.').isVisible()).toBe(true);

    await app.openScreen('3. Chat');
    await page.getByText(/^Settings:/).click();
    await page.getByLabel('Max new tokens').fill('8');
    await page.getByLabel('Max new tokens').press('Tab');
    await page.getByLabel('Message').fill('w5 w6 w7');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.turn.assistant .small').count(), { timeout: PAGE_WAIT_MS }).toBe(1);
    expect(await page.locator('.turn.assistant .small').textContent()).toMatch(/^\d+ tokens · [\d.]+ tokens\/s/);
    expect(await page.locator('.pane .muted').first().textContent()).toContain('chat template');

    app.expectOnlyOrigins(hubUrl);
    expect(app.errors).toEqual([]);
  });
});

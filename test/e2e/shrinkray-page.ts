import type { Locator, Page } from 'playwright';
import { expect } from 'vitest';
import { launchApp, screenshotBoth, VIEWPORTS, type AppBrowser } from './app-browser.ts';
import { axeViolations } from './app-helpers.ts';
import type { JourneySteps } from './journey-steps.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * The page object of the end-to-end journeys: what a person does on each screen (choose a
 * model, pick a recipe and compress, read the report, look at the stored models, chat) as
 * one method each, so a journey reads as the steps it takes and a change to a label or a
 * screen is made here once. Assertions about what the screens show stay in the journeys;
 * the checks every screen gets (axe-core, screenshots, where requests went) are here. Firefox's
 * page object takes the same steps (journey-steps.ts).
 */
export class ShrinkrayPage implements JourneySteps {
  private constructor(
    readonly app: AppBrowser,
    /** The app's own origin: every journey's requests go there (and to a hub it names). */
    readonly origin: string,
  ) {}

  /** A fresh browser profile on `url` (the app, possibly with a query); closed when the test ends. */
  static async open(url: string, opts: { viewport?: keyof typeof VIEWPORTS } = {}): Promise<ShrinkrayPage> {
    return new ShrinkrayPage(await launchApp(url, opts), new URL(url).origin);
  }

  get page(): Page {
    return this.app.page;
  }

  /** Console errors and uncaught page errors so far. */
  get errors(): string[] {
    return this.app.errors;
  }

  // --- navigation ---

  openScreen(label: RegExp | string): Promise<void> {
    return this.page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: label }).click();
  }

  // --- 1. Model ---

  get demoButton(): Locator {
    return this.page.getByRole('button', { name: /Use the demo model/ });
  }

  /** Waits until the demo model can be chosen (the page probes for it). */
  async demoReady(): Promise<void> {
    await expect.poll(() => this.demoButton.isEnabled()).toBe(true);
  }

  /** Chooses the bundled demo model: the recipe screen opens. */
  async chooseDemo(): Promise<void> {
    await this.demoReady();
    await this.demoButton.click();
    await this.shrinkScreen();
  }

  /** The recipe screen is open (after choosing, importing or following a link to a model). */
  async shrinkScreen(timeout = PAGE_WAIT_MS): Promise<void> {
    await this.page.getByRole('heading', { name: 'Shrink it' }).waitFor({ timeout });
  }

  // --- 2. Shrink ---

  get recipe(): Locator {
    return this.page.getByLabel('Recipe (advanced: steps joined by +)');
  }

  get compressButton(): Locator {
    return this.page.getByRole('button', { name: 'Compress', exact: true });
  }

  get calibrationPicker(): Locator {
    return this.page.getByRole('group', { name: 'Calibration text' });
  }

  /** Types a recipe and waits for the page to accept it. */
  async setRecipe(recipe: string): Promise<void> {
    await this.recipe.fill(recipe);
    await expect.poll(() => this.page.locator('#recipe-check').textContent()).toMatch(/^Valid: /);
  }

  /** Chooses "Text I paste" in the calibration picker and pastes `text`. */
  async pasteCalibration(text: string): Promise<void> {
    await this.calibrationPicker.getByLabel('Text I paste').check();
    await this.page.getByLabel(/Your calibration text/).fill(text);
  }

  /** Presses Compress and waits for the report titled `Report: <title>` (model · canonical recipe). */
  async compress(title: string, timeout = PAGE_WAIT_MS): Promise<void> {
    await this.compressButton.click();
    await this.page.getByRole('heading', { name: `Report: ${title}` }).waitFor({ timeout });
  }

  /** Waits for the report's evaluation, then reads perplexity before and after. */
  async perplexity(timeout = PAGE_WAIT_MS): Promise<{ before: number; after: number }> {
    await this.page.getByTestId('ppl-after').waitFor({ timeout });
    return { before: await this.numberIn('ppl-before'), after: await this.numberIn('ppl-after') };
  }

  /** A number in an element's text, e.g. '4.080 (×1.15)' -> 4.08. */
  async numberIn(testId: string): Promise<number> {
    const text = (await this.page.getByTestId(testId).textContent()) ?? '';
    return Number(/-?\d[\d,]*\.?\d*/.exec(text)![0].replace(/,/g, ''));
  }

  /** The exact byte count an element shows as '(1,044,984 bytes)'. */
  async exactBytesIn(testId: string): Promise<number> {
    const text = (await this.page.getByTestId(testId).textContent()) ?? '';
    return Number(/\(([\d,]+) bytes\)/.exec(text)![1]!.replace(/,/g, ''));
  }

  // --- Stored models ---

  /** The stored models' names, as listed. */
  storedModelNames(): Promise<string[]> {
    return this.page.locator('.model-row strong').allTextContents();
  }

  /** A stored model's files as the manager lists them (its file list opened): path -> bytes. */
  async storedFiles(modelName: string): Promise<Map<string, number>> {
    for (const summary of await this.page.locator('.files-detail summary').all()) {
      if ((await summary.locator('xpath=..').getAttribute('open')) === null) await summary.click();
    }
    const row = this.page.locator('.model-row').filter({ has: this.page.getByText(modelName, { exact: true }) });
    const rows = await row
      .locator('.files tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [tr.children[0]!.textContent!, Number(tr.children[1]!.textContent!.replace(/,/g, ''))] as [string, number]),
      );
    return new Map(rows);
  }

  // --- 3. Chat ---

  get chatModel(): Locator {
    return this.page.getByRole('combobox', { name: 'Model' });
  }

  /** Opens the chat settings, sets the given fields, and closes them again. */
  async chatSettings(o: { temperature?: number; maxNewTokens?: number; threads?: number }): Promise<void> {
    const toggle = this.page.getByText(/^Settings:/);
    await toggle.click();
    for (const [label, value] of [
      ['Temperature (0 = greedy)', o.temperature],
      ['Max new tokens', o.maxNewTokens],
      ['CPU threads', o.threads],
    ] as const) {
      if (value === undefined) continue;
      await this.page.getByLabel(label).fill(String(value));
      await this.page.getByLabel(label).press('Tab');
    }
    await toggle.click();
  }

  /** The finished replies (each has its status line), over every pane. */
  get replyStatus(): Locator {
    return this.page.locator('.turn.assistant .small');
  }

  /** Sends `message` (empty: a completion from BOS) and waits until `replies` replies are finished. */
  async send(message: string, replies = 1, timeout = PAGE_WAIT_MS): Promise<void> {
    if (message) await this.page.getByLabel(/^(Message|Prompt)/).fill(message);
    await this.page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => this.replyStatus.count(), { timeout }).toBe(replies);
  }

  // --- checks every screen gets ---

  /** axe-core finds nothing serious, then screenshots at 1280x800 and 390x844 (test-results/screenshots/). */
  async checkScreen(name: string): Promise<void> {
    expect(await axeViolations(this.page), `axe on ${name}`).toEqual([]);
    await screenshotBoth(this.page, name);
  }

  /** Every request went to the app's origin or one of `others` (a hub the journey chose). */
  expectOnlyOrigins(...others: string[]): void {
    const allowed = [this.origin, ...others.map((o) => new URL(o).origin)];
    const elsewhere = this.app.requests.filter(
      (url) => !url.startsWith('blob:') && !url.startsWith('data:') && !allowed.includes(new URL(url).origin),
    );
    expect(elsewhere).toEqual([]);
  }
}

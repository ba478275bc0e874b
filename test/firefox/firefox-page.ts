import { writeFile } from 'node:fs/promises';
import type { Page } from 'puppeteer-core';
import type { JourneySteps } from '../e2e/journey-steps.ts';
import { clickButton, fillLabelled, launchFirefox, screenshotBoth, waitFor, type FirefoxApp } from './firefox-app.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * Firefox's page object: the steps Chromium's ShrinkrayPage takes (test/e2e/journey-steps.ts),
 * over puppeteer-core. Puppeteer's locators by role and label do not reach Firefox over
 * WebDriver BiDi, so each step finds its control in the page by the text a person reads
 * (a button's name, a label, a heading) and acts on it there.
 */
export class FirefoxShrinkrayPage implements JourneySteps {
  private constructor(readonly app: FirefoxApp) {}

  /** A fresh Firefox profile on `url`; closed when the test ends. */
  static async open(url: string): Promise<FirefoxShrinkrayPage> {
    return new FirefoxShrinkrayPage(await launchFirefox(url));
  }

  get page(): Page {
    return this.app.page;
  }

  get errors(): string[] {
    return this.app.errors;
  }

  async openScreen(label: RegExp | string): Promise<void> {
    const source = typeof label === 'string' ? label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : label.source;
    await waitFor(
      this.page,
      new Function(`const a = [...document.querySelectorAll('nav a')].find((x) => /${source.replace(/\//g, '\\/')}/.test(x.textContent ?? ''));
        a?.click(); return !!a;`) as () => boolean,
      `the screen link ${source}`,
    );
  }

  async demoReady(): Promise<void> {
    await waitFor(
      this.page,
      () => [...document.querySelectorAll('button')].some((b) => /Use the demo model/.test(b.textContent ?? '') && !b.disabled),
      'the demo button',
    );
  }

  async chooseDemo(): Promise<void> {
    await this.demoReady();
    await clickButton(this.page, /Use the demo model/);
    await this.shrinkScreen();
  }

  async shrinkScreen(timeout = PAGE_WAIT_MS): Promise<void> {
    await this.heading('Shrink it', timeout);
  }

  async setRecipe(recipe: string): Promise<void> {
    await fillLabelled(this.page, 'Recipe (advanced: steps joined by +)', recipe);
    await waitFor(
      this.page,
      () => document.getElementById('recipe-check')?.textContent?.startsWith('Valid: '),
      `recipe ${recipe} accepted`,
    );
  }

  async pasteCalibration(text: string): Promise<void> {
    await this.check('Text I paste');
    await fillLabelled(this.page, 'Your calibration text', text);
  }

  async compress(title: string, timeout = PAGE_WAIT_MS): Promise<void> {
    await clickButton(this.page, 'Compress');
    await this.heading(`Report: ${title}`, timeout);
  }

  async perplexity(timeout = PAGE_WAIT_MS): Promise<{ before: number; after: number }> {
    await waitFor(
      this.page,
      () => document.querySelector('[data-testid="ppl-after"]')?.textContent?.match(/\d/),
      'the perplexity',
      timeout,
    );
    return { before: await this.numberIn('ppl-before'), after: await this.numberIn('ppl-after') };
  }

  async numberIn(testId: string): Promise<number> {
    const text = await this.page.evaluate((id: string) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '', testId);
    return Number(/-?\d[\d,]*\.?\d*/.exec(text)![0].replace(/,/g, ''));
  }

  storedModelNames(): Promise<string[]> {
    return this.page.evaluate(() => [...document.querySelectorAll('.model-row strong')].map((e) => e.textContent ?? ''));
  }

  async chatSettings(o: { temperature?: number; maxNewTokens?: number; threads?: number }): Promise<void> {
    const toggle = () => this.page.evaluate(() => (document.querySelector('details.chat-settings summary') as HTMLElement).click());
    await toggle();
    for (const [label, value] of [
      ['Temperature (0 = greedy)', o.temperature],
      ['Max new tokens', o.maxNewTokens],
      ['CPU threads', o.threads],
    ] as const) {
      if (value !== undefined) await fillLabelled(this.page, label, String(value));
    }
    await toggle();
  }

  async send(message: string, replies = 1, timeout = PAGE_WAIT_MS): Promise<void> {
    if (message) await fillLabelled(this.page, (await this.hasLabel('Message')) ? 'Message' : 'Prompt', message);
    await clickButton(this.page, 'Send');
    await waitFor(
      this.page,
      new Function(`return document.querySelectorAll('.turn.assistant .small').length === ${replies}`) as () => boolean,
      `${replies} finished replies`,
      timeout,
    );
  }

  /** Screenshots `firefox-<name>-{desktop,phone}.png` (axe-core's verdict on the same DOM is Chromium's to give). */
  async checkScreen(name: string): Promise<void> {
    await screenshotBoth(this.page, name);
  }

  // --- steps Firefox's journeys take beyond the shared ones ---

  /** Waits for a heading whose whole text is `text`. */
  async heading(text: string, timeout = PAGE_WAIT_MS): Promise<void> {
    await this.saying(
      waitFor(
        this.page,
        new Function(
          `return [...document.querySelectorAll('h1, h2, h3')].some((h) => h.textContent.trim() === ${JSON.stringify(text)})`,
        ) as () => boolean,
        `the heading '${text}'`,
        timeout,
      ),
    );
  }

  /** `wait`, or its error with what the page says meanwhile (a running job's line, an alert) and a screenshot. */
  private async saying<T>(wait: Promise<T>): Promise<T> {
    try {
      return await wait;
    } catch (e) {
      const says = await this.page
        .evaluate(() =>
          [...document.querySelectorAll('.job-detail, [role="alert"], [role="status"]')].map((x) => x.textContent).join(' | '),
        )
        .catch(() => '(the page did not answer)');
      await this.checkScreen('failed').catch(() => undefined);
      throw new Error(`${(e as Error).message}; the page says: ${says}`, { cause: e });
    }
  }

  /** Checks the checkbox or radio whose label's text starts with `label`. */
  async check(label: string): Promise<void> {
    await this.page.evaluate((l: string) => {
      const lab = [...document.querySelectorAll('label')].find((x) => x.textContent?.trim().startsWith(l));
      const input = (lab?.control ?? lab?.querySelector('input')) as HTMLInputElement | null | undefined;
      if (!input) throw new Error(`no control labelled ${l}`);
      if (!input.checked) input.click();
    }, label);
  }

  /** Chooses `paths` in the file input labelled `label`, as the file picker would. */
  async chooseFiles(label: string, paths: string[]): Promise<void> {
    const input = await this.page.evaluateHandle((l: string) => {
      const lab = [...document.querySelectorAll('label')].find((x) => x.textContent?.trim().startsWith(l));
      return (lab?.control ?? lab?.querySelector('input')) as HTMLInputElement;
    }, label);
    await (input as unknown as { uploadFile(...p: string[]): Promise<void> }).uploadFile(...paths);
  }

  /** Presses "Export as zip" and writes the Blob the app hands to the browser's download to `path`; its suggested name. */
  async exportZip(path: string): Promise<string> {
    await this.page.evaluate(() => {
      const w = window as unknown as { zipDownload?: { href: string; name: string } };
      const click = HTMLAnchorElement.prototype.click;
      HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
        if (this.download) w.zipDownload = { href: this.href, name: this.download };
        return click.call(this);
      };
    });
    await clickButton(this.page, 'Export as zip');
    await waitFor(this.page, () => 'zipDownload' in window, 'the zip download');
    const { name, base64 } = await this.page.evaluate(async () => {
      const d = (window as unknown as { zipDownload: { href: string; name: string } }).zipDownload;
      const bytes = new Uint8Array(await (await fetch(d.href)).arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return { name: d.name, base64: btoa(s) };
    });
    await writeFile(path, Buffer.from(base64, 'base64'));
    return name;
  }

  private hasLabel(l: string): Promise<boolean> {
    return this.page.evaluate((t: string) => [...document.querySelectorAll('label')].some((x) => x.textContent?.trim().startsWith(t)), l);
  }
}

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { onTestFinished } from 'vitest';
import { launchFirefoxBrowser } from '../browsers/firefox-launch.ts';
import { SCREENSHOT_DIR, VIEWPORTS } from '../e2e/app-browser.ts'; // the same widths and folder as Chromium's journeys
import { HANG_MS, PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * Debian's Firefox ESR driven by puppeteer-core over WebDriver BiDi (no geckodriver, no
 * downloaded browser), as a person's browser: a fresh profile with default prefs (the
 * persistent-storage prompt is NOT pre-answered: the app must never wait on it), console
 * errors recorded, screenshots at the two widths the app is judged at.
 */

export interface FirefoxApp {
  browser: Browser;
  page: Page;
  /** Console errors and uncaught page errors, each with the seconds since launch and the page's address. */
  errors: string[];
  /** The latest console lines of every level and the test's own marks, timed the same way (for failure messages). */
  said: string[];
  /** Adds a line to `said`: where the test is, timed as the page's lines are. */
  mark(step: string): void;
  close(): Promise<void>;
}

export async function launchFirefox(url: string): Promise<FirefoxApp> {
  const profile = await mkdtemp(join(tmpdir(), 'shrinkray-firefox-profile-'));
  const browser = await launchFirefoxBrowser(profile, { protocolTimeoutMs: HANG_MS }); // a page call's bound is the hang bound
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  const errors: string[] = [];
  const said: string[] = [];
  consoleOf.set(page, said);
  const launched = Date.now();
  const when = () => `${((Date.now() - launched) / 1000).toFixed(1)} s, ${page.url()}`;
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console [${when()}]: ${m.text()}`);
    said.push(`[${when()}] ${m.type()}: ${m.text()}`);
    if (said.length > SAID_KEPT) said.shift();
  });
  page.on('pageerror', (e) => {
    errors.push(`pageerror [${when()}]: ${String(e)}`);
    said.push(`[${when()}] pageerror: ${String(e)}`);
  });
  await page.setViewport(VIEWPORTS.desktop);
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= browser.close().then(() => rm(profile, { recursive: true, force: true })));
  onTestFinished(close); // closed when the test ends, pass or fail
  await page.goto(url);
  const mark = (step: string) => said.push(`[${when()}] test: ${step}`);
  return { browser, page, errors, said, mark, close };
}

/** Saves `firefox-<name>-desktop.png` and `firefox-<name>-phone.png` (full page), then restores the desktop viewport. */
export async function screenshotBoth(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewport(size);
    await page.screenshot({ path: join(SCREENSHOT_DIR, `firefox-${name}-${label}.png`) as `${string}.png`, fullPage: true });
  }
  await page.setViewport(VIEWPORTS.desktop);
}

/** The page's latest console lines (every level), kept for a failure's message. */
const consoleOf = new WeakMap<Page, string[]>();
const SAID_KEPT = 80;

/**
 * What a failure's message adds about the page: whether it still answers a script and runs its
 * timers (each asked with a 5 s bound), what its main element reads at the end, and its latest
 * console lines. A page that stopped answering reads differently from one still working.
 */
export async function pageState(page: Page): Promise<string> {
  const within = <T>(p: Promise<T>): Promise<T | 'no answer in 5 s'> =>
    Promise.race([p, new Promise<'no answer in 5 s'>((ok) => setTimeout(() => ok('no answer in 5 s'), 5_000))]);
  const answers = await within(page.evaluate(() => 'yes').catch((e: unknown) => `error ${String(e)}`));
  const timers = await within(
    page.evaluate(() => new Promise<string>((ok) => setTimeout(() => ok('yes'), 50))).catch((e: unknown) => `error ${String(e)}`),
  );
  const shows = await within(
    page.evaluate(() => (document.querySelector('main') ?? document.body)?.innerText.slice(-1_200) ?? '').catch(() => ''),
  );
  return [
    `page answers a script: ${answers}; its timers run: ${timers}`,
    `page shows (end of main): ${JSON.stringify(shows)}`,
    `console (latest ${SAID_KEPT}):`,
    ...(consoleOf.get(page) ?? []).map((l) => `  ${l}`),
  ].join('\n');
}

/** Polls `fn` (a page function) until it returns a truthy value; fails naming `what` and the page's state. */
export async function waitFor<T>(page: Page, fn: () => T, what: string, timeoutMs = PAGE_WAIT_MS): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await page.evaluate(fn).catch(() => undefined); // a reload in between only costs a retry
    if (v) return v as T;
    if (Date.now() > until) throw new Error(`Firefox: timed out after ${timeoutMs} ms waiting for ${what}\n${await pageState(page)}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/** Clicks the button whose text is `text` once it is enabled (waiting up to `timeoutMs`). */
export async function clickButton(page: Page, text: string | RegExp, timeoutMs = PAGE_WAIT_MS): Promise<void> {
  const source = typeof text === 'string' ? `^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` : text.source;
  const until = Date.now() + timeoutMs;
  for (;;) {
    const clicked = await page.evaluate((src: string) => {
      const re = new RegExp(src);
      const b = [...document.querySelectorAll('button')].find((x) => re.test(x.textContent?.trim() ?? '') && !x.disabled);
      b?.click();
      return !!b;
    }, source);
    if (clicked) return;
    if (Date.now() > until) throw new Error(`Firefox: no enabled button ${source} after ${timeoutMs} ms\n${await pageState(page)}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/** Opens a screen from the navigation. */
export async function openScreen(page: Page, label: string): Promise<void> {
  await page.evaluate((l: string) => {
    const a = [...document.querySelectorAll('nav a')].find((x) => x.textContent?.includes(l)) as HTMLElement | undefined;
    if (!a) throw new Error(`no screen link ${l}`);
    a.click();
  }, label);
}

/** Sets the control labelled `label` (the label's text starts with it) to `value`, as typing then leaving it would. */
export async function fillLabelled(page: Page, label: string, value: string): Promise<void> {
  await page.evaluate(
    (l: string, v: string) => {
      const lab = [...document.querySelectorAll('label')].find((x) => x.textContent?.trim().startsWith(l));
      const control = lab?.control as HTMLInputElement | null | undefined;
      if (!control) throw new Error(`no control labelled ${l}`);
      control.focus();
      control.value = v;
      control.dispatchEvent(new Event('input', { bubbles: true }));
      control.dispatchEvent(new Event('change', { bubbles: true }));
      control.blur();
    },
    label,
    value,
  );
}

export const text = (page: Page, selector: string): Promise<string> =>
  page.evaluate((s: string) => document.querySelector(s)?.textContent ?? '', selector);

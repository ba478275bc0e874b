import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { Page } from 'playwright';
import { expect } from 'vitest';
import { screenshotBoth, type AppBrowser } from './app-browser.ts';

/**
 * What the end-to-end tests do on every screen: check it with axe-core (no serious or
 * critical violation), screenshot it at both widths, and check where the page's requests
 * went. Plus the fixture figures the journey compares against.
 */
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Runs axe-core inside the page (injected as a script, as a person's extension would). */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run(document)).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

/** axe-core finds nothing serious, then screenshots at 1280x800 and 390x844. */
export async function checkScreen(page: Page, name: string): Promise<void> {
  expect(await axeViolations(page), `axe on ${name}`).toEqual([]);
  await screenshotBoth(page, name);
}

/** Every request went to one of these origins (the app's, the chosen hub's). */
export function expectOnlyOrigins(app: AppBrowser, origins: string[]): void {
  const elsewhere = app.requests.filter((url) => {
    if (url.startsWith('blob:') || url.startsWith('data:')) return false;
    return !origins.includes(new URL(url).origin);
  });
  expect(elsewhere).toEqual([]);
}

export function openScreen(page: Page, label: RegExp | string) {
  return page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: label }).click();
}

export const FIXTURES = process.env.SHRINKRAY_FIXTURES ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures');

/** The greedy continuation from BOS that the fixtures README documents (computed outside the project). */
export async function expectedGreedyText(): Promise<string> {
  const readme = await readFile(resolve(FIXTURES, 'README.md'), 'utf8');
  return /Greedy decoding from BOS[\s\S]*?`([^`]+)`/.exec(readme)![1]!;
}

/** A number in an element's text, e.g. '4.080 (×1.15)' -> 4.08. */
export async function numberIn(page: Page, testId: string): Promise<number> {
  const text = (await page.getByTestId(testId).textContent()) ?? '';
  return Number(/-?\d[\d,]*\.?\d*/.exec(text)![0].replace(/,/g, ''));
}

/** The exact byte count an element shows as '(1,044,984 bytes)'. */
export async function exactBytesIn(page: Page, testId: string): Promise<number> {
  const text = (await page.getByTestId(testId).textContent()) ?? '';
  return Number(/\(([\d,]+) bytes\)/.exec(text)![1]!.replace(/,/g, ''));
}

/** A stored model's files as the manager lists them: path -> bytes. */
export async function storedFiles(page: Page, modelName: string): Promise<Map<string, number>> {
  const row = page.locator('.model-row').filter({ has: page.getByText(modelName, { exact: true }) });
  const rows = await row
    .locator('.files tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) => [tr.children[0]!.textContent!, Number(tr.children[1]!.textContent!.replace(/,/g, ''))] as [string, number]),
    );
  return new Map(rows);
}

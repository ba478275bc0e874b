import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { Page } from 'playwright';

/**
 * What the journeys check beyond the page object (shrinkray-page.ts): axe-core's verdict on a
 * screen, and the fixture figures they compare against.
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

export const FIXTURES = process.env.SHRINKRAY_FIXTURES ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures');

/** The greedy continuation from BOS that the fixtures README documents (computed outside the project). */
export async function expectedGreedyText(): Promise<string> {
  const readme = await readFile(resolve(FIXTURES, 'README.md'), 'utf8');
  return /Greedy decoding from BOS[\s\S]*?`([^`]+)`/.exec(readme)![1]!;
}

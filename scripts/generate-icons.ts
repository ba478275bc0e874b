import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';

/**
 * Renders public/favicon.svg into the PWA's PNG icons (public/icons/), with Debian's Chromium
 * through Playwright: the same browser the tests use, so the output is the same on every run
 * with the same Chromium. The PNGs are committed; run this again (`npx tsx scripts/generate-icons.ts`)
 * only when the favicon changes.
 *   icon-{192,512}.png           purpose "any": the favicon as it is (rounded square, transparent corners)
 *   icon-maskable-{192,512}.png  purpose "maskable": full-bleed background, the mark shrunk into the
 *                                safe zone (a centred circle of 80% of the width), as launchers crop it
 *   apple-touch-icon.png         180 px, opaque (iOS paints transparency black and rounds corners itself)
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'public', 'icons');
const favicon = readFileSync(join(root, 'public', 'favicon.svg'), 'utf8');

// The favicon's background colour (its first rect), which is also the manifest's theme_color.
const background = /<rect[^>]*fill="([^"]+)"/.exec(favicon)?.[1];
if (!background) throw new Error('public/favicon.svg: expected a <rect fill="…"> background as its first shape');
const viewBox = /viewBox="0 0 (\d+) (\d+)"/.exec(favicon);
if (!viewBox || viewBox[1] !== viewBox[2]) throw new Error('public/favicon.svg: expected a square viewBox="0 0 N N"');
const side = Number(viewBox[1]);
const inner = favicon.replace(/^[\s\S]*?<svg[^>]*>/, '').replace(/<\/svg>\s*$/, '');

/** The favicon at `px`, as it is. */
function anyIcon(px: number): string {
  return favicon.replace('<svg ', `<svg width="${px}" height="${px}" `);
}

/** The mark scaled by `scale` about the centre, on a full-bleed square of the background colour. */
function fullBleedIcon(px: number, scale: number): string {
  const c = side / 2;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${px}" height="${px}" viewBox="0 0 ${side} ${side}">` +
    `<rect width="${side}" height="${side}" fill="${background}"/>` +
    `<g transform="translate(${c} ${c}) scale(${scale}) translate(${-c} ${-c})">${inner}</g></svg>`
  );
}

// The mark (arrow) reaches about 13.2 of 32 units from the centre with its stroke; the maskable
// safe zone is a radius of 40% of the width (12.8 units): 0.75 keeps it inside with a margin.
const icons: Array<{ file: string; px: number; svg: string }> = [
  { file: 'icon-192.png', px: 192, svg: anyIcon(192) },
  { file: 'icon-512.png', px: 512, svg: anyIcon(512) },
  { file: 'icon-maskable-192.png', px: 192, svg: fullBleedIcon(192, 0.75) },
  { file: 'icon-maskable-512.png', px: 512, svg: fullBleedIcon(512, 0.75) },
  { file: 'apple-touch-icon.png', px: 180, svg: fullBleedIcon(180, 0.85) },
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  ignoreDefaultArgs: ['--headless'],
  args: [
    '--headless=new',
    '--no-sandbox',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ deviceScaleFactor: 1 });
  mkdirSync(outDir, { recursive: true });
  for (const { file, px, svg } of icons) {
    await page.setViewportSize({ width: px, height: px });
    await page.setContent(`<!doctype html><style>html,body{margin:0;background:transparent}svg{display:block}</style>${svg}`);
    await page.screenshot({ path: join(outDir, file), omitBackground: true, clip: { x: 0, y: 0, width: px, height: px } });
    console.log(`icons: ${join('public', 'icons', file)} (${px}x${px})`);
  }
} finally {
  await browser.close();
}

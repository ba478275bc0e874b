import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes test/file-durations.json from Vitest's record of the last run (node_modules/.vite/vitest),
 * the expected times test/longest-first-sequencer.ts orders files by on a clean clone. Run it after
 * a full `npm test` on a quiet machine: `npm run test:durations`.
 */
const cacheDir = join('node_modules', '.vite', 'vitest');
const out = 'test/file-durations.json';
const merged: Record<string, number> = JSON.parse(readFileSync(out, 'utf8')) as Record<string, number>;
let read = 0;
for (const hash of readdirSync(cacheDir)) {
  const file = join(cacheDir, hash, 'results.json'); // Vitest keeps other caches beside it
  if (!existsSync(file)) continue;
  const { results } = JSON.parse(readFileSync(file, 'utf8')) as {
    results: [string, { duration?: number }][];
  };
  for (const [key, r] of results) {
    if (typeof r.duration !== 'number') continue;
    merged[key] = Math.round(r.duration / 100) / 10;
    read++;
  }
}
// Files that are gone (renamed, deleted) leave the table.
const kept = Object.entries(merged).filter(([key]) => existsSync(key.slice(key.indexOf(':') + 1)));
const sorted = Object.fromEntries(kept.sort(([a], [b]) => (a < b ? -1 : 1)));
writeFileSync(out, `${JSON.stringify(sorted, null, 2)}\n`);
console.log(`${out}: ${Object.keys(sorted).length} files (${read} from Vitest's last run)`);

// Runs before `vite` in `npm start`: installs npm dependencies on a fresh clone and
// generates the bundled demo model into the git-ignored public/models/, so the app
// serves it. Nothing here may stop the app from starting: without ../shared (or before
// scripts/fixtures.ts exists) the page still loads and says the demo model is missing.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demoConfig = join(root, 'public/models/stories260K/config.json');

function run(args) {
  execFileSync('npm', args, { cwd: root, stdio: 'inherit' });
}

// npm writes node_modules/.package-lock.json on install; missing or older than the
// lockfile means there is nothing (or something stale) to run vite with.
function dependenciesStale() {
  const hidden = join(root, 'node_modules/.package-lock.json');
  if (!existsSync(hidden)) return true;
  return statSync(join(root, 'package-lock.json')).mtimeMs > statSync(hidden).mtimeMs;
}

if (dependenciesStale()) {
  console.log('ensure-fixtures: installing npm dependencies (npm ci)');
  run(['ci', '--no-audit', '--no-fund']);
}

if (!existsSync(join(root, 'scripts/fixtures.ts'))) {
  console.warn('ensure-fixtures: scripts/fixtures.ts is not there yet; starting without the demo model.');
} else {
  try {
    run(['run', '--silent', 'fixtures']);
  } catch (e) {
    console.warn(`ensure-fixtures: npm run fixtures failed (${e.message.split('\n')[0]}); starting without the demo model.`);
  }
}

console.log(
  existsSync(demoConfig)
    ? 'ensure-fixtures: demo model ready in public/models/stories260K/'
    : 'ensure-fixtures: no demo model (needs ../shared/fixtures); the app says so and offers hub models.',
);

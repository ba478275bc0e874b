#!/usr/bin/env node
// The CLI runs the same TypeScript sources as the browser, through tsx's loader. It runs from a
// clone of the repository (`npm ci` installs tsx); the packed library (`npm pack`) carries only
// dist-lib/, so there the command says what it is instead of failing on a missing module.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const tsx = existsSync(sources) ? await import('tsx/esm/api').catch(() => null) : null;
if (!tsx) {
  console.error(
    "shrinkray: this installed package is the library (import { createEngine } from 'shrinkray'); the command line runs " +
      'from a clone of the Shrinkray repository: npm ci, then npx shrinkray <verb>',
  );
  process.exit(1);
}
tsx.register();
const { main } = await import(sources.href);
process.exitCode = await main(process.argv.slice(2));

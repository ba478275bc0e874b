import { defineConfig } from 'vitest/config';

// Only for test/node/hang-watchdog.test.ts: the stuck file, with the suite's reporters.
export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ['stuck.fixture.ts'],
    reporters: ['default', './reporter.ts'],
  },
});

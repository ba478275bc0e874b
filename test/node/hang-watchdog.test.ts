import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

/**
 * The suite's watchdog reporter (test/hang-watchdog/reporter.ts) on a file that blocks its worker
 * in a synchronous child process, where no test timeout fires: within seconds of its quiet bound
 * (3 s here) the run names the file and the last thing it reported, kills the processes below
 * Vitest (the stuck child among them) and exits 1, where Vitest alone would wait for ever.
 */
const root = resolve(import.meta.dirname, '..', '..');
const vitest = resolve(root, 'node_modules', 'vitest', 'vitest.mjs');

it('ends a run stuck where no time limit can reach, naming the file and killing what is below it', async () => {
  const started = Date.now();
  const run = await promisify(execFile)(process.execPath, [vitest, 'run', '--config', 'test/hang-watchdog/vitest.config.ts'], {
    cwd: root,
    env: { ...process.env, SHRINKRAY_HANG_WATCH_MS: '3000', FORCE_COLOR: '0', NO_COLOR: '1' },
    timeout: 120_000, // the watchdog's own failure: execFile kills the run and this test fails
  }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code?: number; stderr?: string; killed?: boolean }) => ({ code: e.killed ? -1 : (e.code ?? -1), stderr: e.stderr ?? '' }),
  );
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr).toMatch(
    /hang watchdog: no word for 3 s from a test file .*\n {2}stuck\.fixture\.ts: last test "waits a little, so the file has reported its first test" ended \(passed\), \d+ s ago\n/,
  );
  const child = Number(/child (\d+)/.exec(run.stderr)?.[1]);
  expect(child).toBeGreaterThan(0);
  // Gone, or a zombie (killed, its parent killed before it could reap it): state Z in /proc/<pid>/stat.
  const stat = existsSync(`/proc/${child}/stat`) ? readFileSync(`/proc/${child}/stat`, 'utf8') : '';
  expect(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3), `the stuck child: ${stat}`).toMatch(/^Z?$/);
  expect(Date.now() - started).toBeLessThan(60_000);
});

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STORIES_DIR } from './fixture-paths.ts';
import { runCli } from './run-cli.ts';

/**
 * The CLI's argument handling (node's util.parseArgs, strict): each mistake is refused with
 * one line naming the option and a usage exit code, before any model is read; --help works
 * per verb; bad calibration options fail before any work; a bug is one line too, no stack.
 */

const work = mkdtempSync(join(tmpdir(), 'shrinkray-cli-args-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** One line on stderr, no stack frame, and nothing on stdout. */
function expectOneLine(run: { stdout: string; stderr: string }): string {
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stdout).toBe('');
  return lines[0]!;
}

describe('shrinkray argument parsing', () => {
  it('names an unknown option and lists what the verb takes', async () => {
    const r = await runCli(['eval', STORIES_DIR, '--text', 'a.txt', '--max-doc', '3']);
    expect(r.code).toBe(2);
    expect(expectOneLine(r)).toBe(
      'shrinkray eval: unknown option --max-doc; eval takes --text, --max-docs, --engine, --threads, --help (see shrinkray eval --help) [bad_argument]',
    );
  });

  it('does not take a value that begins with -- (the value was forgotten)', async () => {
    const out = join(work, 'never');
    const r = await runCli(['compress', STORIES_DIR, '--out', '--recipe', 'int8']);
    expect(r.code).toBe(2);
    expect(expectOneLine(r)).toMatch(
      /^shrinkray compress: --out needs a value, but '--recipe' looks like an option; write --out=--recipe if that is the value/,
    );
    expect((await runCli(['compress', STORIES_DIR, '--recipe', 'int8', '--out'])).stderr).toMatch(/--out needs a value \(see/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses an option given twice and a surplus argument', async () => {
    const twice = await runCli(['compress', STORIES_DIR, '--recipe', 'int4', '--recipe', 'int8', '--out', join(work, 'x')]);
    expect(twice.code).toBe(2);
    expect(expectOneLine(twice)).toMatch(/--recipe is given more than once \[bad_argument\]$/);
    const extra = await runCli(['generate', STORIES_DIR, 'Once upon a time']);
    expect(extra.code).toBe(2);
    expect(expectOneLine(extra)).toMatch(/unexpected argument 'Once upon a time'/);
  });

  it("--help prints one verb's usage on stdout; bare --help lists every verb", async () => {
    for (const verb of ['import', 'compress', 'eval', 'generate', 'export-site']) {
      for (const flag of ['--help', '-h']) {
        const r = await runCli([verb, flag]);
        expect(r.code, `${verb} ${flag}`).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^usage: shrinkray ${verb} <`));
        expect(r.stderr).toBe('');
      }
    }
    expect((await runCli(['compress', '--help'])).stdout).toMatch(/--recipe <name> --out <dir> \[--calib <textfile>\]/);
    const all = await runCli(['--help']);
    expect(all.code).toBe(0);
    expect(all.stdout.match(/^ {2}(import|compress|eval|generate) /gm)).toHaveLength(4);
    expect((await runCli(['shrink'])).stderr).toMatch(/unknown verb 'shrink'/);
  });

  it('refuses a missing calibration file or a bad window count before any work', async () => {
    const out = join(work, 'calib-out');
    const missing = await runCli(['compress', STORIES_DIR, '--recipe', 'gptq-int4-g32', '--out', out, '--calib', join(work, 'nope.txt')]);
    expect(missing.code).toBe(1);
    expect(expectOneLine(missing)).toMatch(/^shrinkray compress: --calib .*nope\.txt does not exist \[missing_file\]$/);
    const calib = join(work, 'calib.txt');
    writeFileSync(calib, 'Once upon a time');
    const windows = await runCli(['compress', STORIES_DIR, '--recipe', 'wanda50', '--out', out, '--calib', calib, '--calib-windows', '0']);
    expect(expectOneLine(windows)).toMatch(/--calib-windows must be an integer >= 1, got 0 \[bad_argument\]$/);
    expect(existsSync(out)).toBe(false);
  });

  it('a file-system failure is one line naming the path, without a stack', async () => {
    const blocker = join(work, 'a-file');
    writeFileSync(blocker, 'not a folder');
    const r = await runCli(['import', STORIES_DIR, '--out', join(blocker, 'out')]); // mkdir under a file: ENOTDIR
    expect(r.code).toBe(1);
    expect(expectOneLine(r)).toMatch(
      /^shrinkray import: --out .*a-file[\\/]out has a file where a folder belongs on its path \[bad_argument\]$/,
    );
  });

  it('a number option must be a number', async () => {
    const r = await runCli(['generate', STORIES_DIR, '--max-new-tokens', 'many']);
    expect(r.code).toBe(2); // a usage error (README)
    expect(expectOneLine(r)).toMatch(/--max-new-tokens must be a number, got 'many' \[bad_argument\]/);
  });
});

import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  cpSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureTextPath, FIXTURES, STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput } from './run-cli.ts';

/**
 * The CLI never destroys a folder (issue 10, item 2) and meets file-system mistakes with one
 * line (item 7): --out through a symlink to the source, a non-empty --out, an --out that
 * holds the source, a stale onnx/ left in an --out, --out that is a file, a folder or a
 * device where a file belongs. Writes go to a temporary sibling renamed into place, so a
 * failure leaves --out as it was.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-cli-out-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const CKPT = join(FIXTURES, 'stories260K', 'stories260K.bin');
const TOK = join(FIXTURES, 'stories260K', 'tok512.bin');

function copyOfStories(name: string): string {
  const dir = join(work, name);
  cpSync(STORIES_DIR, dir, { recursive: true });
  return dir;
}

/** Every file under `dir` with its bytes, to show that nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path.slice(dir.length)] = readFileSync(path).toString('base64');
  }
  return out;
}

function oneLine(r: { code: number; stderr: string; stdout: string }): string {
  expect(r.code, r.stdout).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

/** No temporary folder is left beside `out` after a run. */
function noTempLeft(parent: string): void {
  expect(readdirSync(parent).filter((f) => f.includes('.shrinkray-'))).toEqual([]);
}

describe('--out never destroys a source or another model', () => {
  it('--out through a symlink to the source is refused; the source is untouched', async () => {
    const src = copyOfStories('src-a');
    const before = snapshot(src);
    const link = join(work, 'link-to-src');
    symlinkSync(src, link);
    for (const verb of [
      ['import', src],
      ['compress', src, '--recipe', 'int8'],
    ]) {
      const line = oneLine(await runCli([...verb, '--out', link, '--force']));
      expect(line).toMatch(/--out .*link-to-src is the source .*src-a itself \(through a symlink, to .*src-a\) \[bad_argument\]$/);
    }
    expect(snapshot(src)).toEqual(before);
    noTempLeft(work);
  });

  it('an --out that holds the source (its parent) is refused, even with --force', async () => {
    const parent = join(work, 'holder');
    mkdirSync(parent);
    cpSync(STORIES_DIR, join(parent, 'model'), { recursive: true });
    const before = snapshot(parent);
    const line = oneLine(await runCli(['compress', join(parent, 'model'), '--recipe', 'int8', '--out', parent, '--force']));
    expect(line).toMatch(/--out .*holder holds the source .*model; writing there would destroy it/);
    // A llama2.c checkpoint inside --out is a source too.
    const ckptDir = join(work, 'ckpt-holder');
    mkdirSync(ckptDir);
    cpSync(CKPT, join(ckptDir, 'model.bin'));
    expect(oneLine(await runCli(['import', join(ckptDir, 'model.bin'), '--tokenizer', TOK, '--out', ckptDir, '--force']))).toMatch(
      /holds the source/,
    );
    expect(existsSync(join(ckptDir, 'model.bin'))).toBe(true);
    expect(snapshot(parent)).toEqual(before);
  });

  it('a non-empty --out is refused without --force, and left as it was', async () => {
    const other = copyOfStories('other-model');
    writeFileSync(join(other, 'config.json'), '{"mine": true}');
    const before = snapshot(other);
    const line = oneLine(await runCli(['import', STORIES_DIR, '--out', other]));
    expect(line).toMatch(
      /--out .*other-model is not empty \(.*config\.json, .*\); choose an empty or new folder, or add --force to replace it \[bad_argument\]$/,
    );
    expect(oneLine(await runCli(['compress', STORIES_DIR, '--recipe', 'int8', '--out', other]))).toMatch(/is not empty/);
    expect(snapshot(other)).toEqual(before);
    noTempLeft(work);
  });

  it('--force replaces the folder whole: an old onnx/ graph does not survive an import for generate to run', async () => {
    const out = join(work, 'reused');
    expect((await runCli(['compress', STORIES_DIR, '--recipe', 'int8', '--out', out])).code).toBe(0);
    expect(existsSync(join(out, 'onnx', 'model.onnx'))).toBe(true);
    const r = await runCli(['import', STORIES_DIR, '--out', out, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, 'onnx'))).toBe(false);
    expect(readdirSync(out).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    // The reference engine runs imported weights only and refuses a folder holding a graph.
    const g = await runCli(['generate', out, '--prompt', 'Once', '--max-new-tokens', '3', '--engine', 'reference']);
    expect(g.code, g.stderr).toBe(0);
    expect(splitOutput(g.stdout).json.engine).toBe('reference'); // the imported weights, not the stale int8 graph
    noTempLeft(work);
  });

  it('an empty existing --out is used as it is', async () => {
    const out = join(work, 'empty');
    mkdirSync(out);
    const r = await runCli(['compress', STORIES_DIR, '--recipe', 'fp16', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(out, 'onnx', 'model.onnx')).isFile()).toBe(true);
  });

  it('a failure half way leaves --out as it was, even under --force', async () => {
    const out = copyOfStories('survivor');
    const before = snapshot(out);
    const broken = copyOfStories('broken-src');
    writeFileSync(join(broken, 'model.safetensors'), readFileSync(join(STORIES_DIR, 'model.safetensors')).subarray(0, 5000)); // truncated
    const line = oneLine(await runCli(['compress', broken, '--recipe', 'int8', '--out', out, '--force']));
    expect(line).toMatch(/model\.safetensors.*\[bad_file\]$/);
    expect(snapshot(out)).toEqual(before);
    noTempLeft(work);
  });
});

describe('file-system mistakes are one line (item 7)', () => {
  it('--out that is a file', async () => {
    const file = join(work, 'a-file.txt');
    writeFileSync(file, 'hello');
    expect(oneLine(await runCli(['import', STORIES_DIR, '--out', file]))).toMatch(
      /--out .*a-file\.txt is a file, not a folder \[bad_argument\]$/,
    );
    expect(oneLine(await runCli(['compress', STORIES_DIR, '--recipe', 'int8', '--out', file]))).toMatch(/is a file, not a folder/);
    expect(readFileSync(file, 'utf8')).toBe('hello');
  });

  it('--tokenizer that is a folder or a device, --text that is a folder', async () => {
    const out = join(work, 'never');
    expect(oneLine(await runCli(['import', CKPT, '--tokenizer', work, '--out', out]))).toMatch(
      /--tokenizer .* is a folder, not a file \[bad_argument\]$/,
    );
    expect(oneLine(await runCli(['import', CKPT, '--tokenizer', '/dev/zero', '--out', out]))).toMatch(
      /--tokenizer \/dev\/zero is a device, not a file/,
    );
    expect(oneLine(await runCli(['eval', STORIES_DIR, '--text', work]))).toMatch(/--text .* is a folder, not a file \[bad_argument\]$/);
    expect(existsSync(out)).toBe(false);
    expect(oneLine(await runCli(['eval', STORIES_DIR, '--text', join(work, 'nope.txt')]))).toMatch(
      /--text .*nope\.txt does not exist \[missing_file\]$/,
    );
    noTempLeft(work);
  });

  it('a source that is a device, and a model file that is a folder', async () => {
    expect(oneLine(await runCli(['import', '/dev/zero', '--tokenizer', TOK, '--out', join(work, 'dev')]))).toMatch(
      /\/dev\/zero: not a regular file.*\[bad_file\]$/,
    );
    const dir = copyOfStories('folder-weights');
    rmSync(join(dir, 'model.safetensors'));
    mkdirSync(join(dir, 'model.safetensors'));
    expect(oneLine(await runCli(['generate', dir, '--prompt', 'Hi']))).toMatch(
      /model\.safetensors: is a folder, where a model file belongs \[bad_file\]$/,
    );
    expect(oneLine(await runCli(['eval', dir, '--text', fixtureTextPath('tinystories_sample.txt')]))).toMatch(/is a folder/);
  });
});

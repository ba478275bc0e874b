import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { STORIES_DIR } from './fixture-paths.ts';

/**
 * A fresh clone after `npm ci` has no wasm builds: the CLI builds them on first use and goes on.
 * A copy of the checkout without the engine's build/ folder stands in for the clone (the builds
 * sit beside the sources they are loaded from), sharing this one's node_modules. Building the four
 * engine modules takes most of this test's time, so it is the only test that builds.
 */
const repo = resolve(import.meta.dirname, '..', '..');
let work: string | undefined;
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the CLI on a checkout without wasm builds', () => {
  it('generate builds the engine first, saying so in one line on stderr, then runs', async () => {
    work = await mkdtemp(join(tmpdir(), 'shrinkray-fresh-'));
    const engineBuild = join(repo, 'src', 'engine', 'wasm', 'build');
    await cp(join(repo, 'src'), join(work, 'src'), { recursive: true, filter: (f) => !f.startsWith(engineBuild) });
    for (const f of ['bin', 'package.json', 'tsconfig.json']) await cp(join(repo, f), join(work, f), { recursive: true });
    await symlink(join(repo, 'node_modules'), join(work, 'node_modules'), 'dir');
    const cli = join(work, 'bin', 'shrinkray.mjs');
    const argv = [cli, 'generate', STORIES_DIR, '--prompt', 'Once upon a time', '--max-new-tokens', '8', '--temperature', '0'];
    const { stdout, stderr } = await promisify(execFile)(process.execPath, argv, { cwd: work });
    expect(stderr.match(/building the WASM kernels on first use/g)).toHaveLength(1);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toMatchObject({ engine: 'cpu' });
    expect((await readdir(join(work, 'src', 'engine', 'wasm', 'build'))).sort()).toEqual([
      'engine-plain-shared.wasm',
      'engine-plain-single.wasm',
      'engine-relaxed-shared.wasm',
      'engine-relaxed-single.wasm',
    ]);
    // Built once: the second run says nothing about building.
    const again = await promisify(execFile)(process.execPath, argv, { cwd: work });
    expect(again.stderr).not.toMatch(/building/);
    const text = (out: string) => out.trim().split('\n').slice(0, -1).join('\n');
    expect(text(again.stdout)).toBe(text(stdout)); // greedy: the same tokens
  });
});

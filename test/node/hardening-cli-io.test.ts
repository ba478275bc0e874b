import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, STORIES_DIR } from './fixture-paths.ts';
import { runCli } from './run-cli.ts';
import { fileBytes, startScriptedServer, storiesGguf, spawnCli, waitFor, type Answer, type ScriptedRequest } from './url-import-rig.ts';

/**
 * The CLI's files and processes (issue 21, items 2, 11, 12 and 15): a named pipe given as a
 * file is refused before it is opened; a signal mid-run removes the temporary folder and exits
 * 128 + its number; a full disk is one `quota_exceeded` line naming --out or the part file,
 * never retried, the part file removed; usage errors exit 2; a long --out, two runs on one
 * --out and a zip each end in one clear line.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-cli-io-'));
let gguf: string;
beforeAll(async () => {
  gguf = await storiesGguf();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function oneLine(r: { code: number; stderr: string }, code = 1): string {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr
    .trimEnd()
    .split('\n')
    .filter((l) => !l.startsWith('downloading ')); // a URL import's progress
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0]!;
}

const litter = (dir: string) => readdirSync(dir).filter((f) => f.includes('.shrinkray-'));

// A download slow enough to be caught mid-way: its ranges (not the header's reads) 16 KiB every 30 ms, about 2 s in all.
const slow = (r: ScriptedRequest): Answer =>
  r.range && r.range[1] - r.range[0] > 100_000 ? { serve: true, pieceBytes: 16 * 1024, pieceMs: 30 } : { serve: true };

describe('usage errors exit 2, in one line', () => {
  it('--threads 0, --engine gpu, --max-docs 0, and an unknown verb', async () => {
    const text = join(FIXTURES, 'stories260K', 'tok512.bin'); // any regular file: the options fail first
    expect(oneLine(await runCli(['eval', STORIES_DIR, '--text', text, '--threads', '0']), 2)).toMatch(/--threads must be an integer/);
    expect(oneLine(await runCli(['eval', STORIES_DIR, '--text', text, '--engine', 'gpu']), 2)).toMatch(/--engine must be cpu, onnx/);
    expect(oneLine(await runCli(['eval', STORIES_DIR, '--text', text, '--max-docs', '0']), 2)).toMatch(/--max-docs must be an integer/);
    expect(oneLine(await runCli(['shrink', STORIES_DIR]), 2)).toBe(
      "shrinkray: unknown verb 'shrink'; the verbs are import, compress, eval, generate, export-site (shrinkray --help shows their options)",
    );
  });
});

describe('a named pipe where a file belongs', () => {
  it('--text, --calib and --tokenizer that are FIFOs are refused before they are opened', async () => {
    const fifo = join(work, 'pipe');
    execFileSync('mkfifo', [fifo]);
    try {
      const ckpt = join(FIXTURES, 'stories260K', 'stories260K.bin');
      const runs = [
        ['eval', STORIES_DIR, '--text', fifo],
        ['compress', STORIES_DIR, '--recipe', 'wanda50', '--out', join(work, 'c'), '--calib', fifo],
        ['import', ckpt, '--tokenizer', fifo, '--out', join(work, 'i')],
      ];
      for (const argv of runs) {
        expect(oneLine(await runCli(argv))).toMatch(
          new RegExp(`--(text|calib|tokenizer) ${fifo} is a named pipe, not a file \\[bad_argument\\]$`),
        );
      }
      expect(litter(work)).toEqual([]);
    } finally {
      // Had a run opened the pipe, it would wait for a writer: be one, so a failing test still ends.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // ENXIO: nobody is reading it, as it should be
      }
    }
  });
});

describe('a signal mid-run removes what the run created', () => {
  it('SIGINT, SIGTERM and SIGHUP during a URL import; SIGTERM during compress', async () => {
    const server = await startScriptedServer(fileBytes(gguf), slow);
    try {
      const runs = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => {
        const dir = join(work, `sig-${signal}`);
        mkdirSync(dir);
        return { signal, dir, run: spawnCli(['import', server.url(), '--out', join(dir, 'm')]) };
      });
      const dir = join(work, 'sig-compress');
      mkdirSync(dir);
      runs.push({ signal: 'SIGTERM', dir, run: spawnCli(['compress', STORIES_DIR, '--recipe', 'gptq-int4-g32', '--out', join(dir, 'c')]) });
      for (const { signal, dir, run } of runs) {
        await waitFor(() => litter(dir).length > 0);
        run.child.kill(signal);
        const exit = await run.exit;
        expect(exit.code, run.stderr()).toBe(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[signal]);
        expect(run.stderr()).toMatch(new RegExp(`shrinkray: stopped by ${signal}`));
        expect(litter(dir)).toEqual([]);
        // --out never appeared; a URL import's part file stays for the next run to resume.
        expect(readdirSync(dir).filter((f) => !f.includes('.part.gguf'))).toEqual([]);
      }
    } finally {
      await server.close();
    }
  });
});

describe('one --out, two runs', () => {
  it('the run that finishes second says so in one line and leaves the first one’s folder', async () => {
    const server = await startScriptedServer(fileBytes(gguf), slow);
    const dir = join(work, 'two-runs');
    mkdirSync(dir);
    const out = join(dir, 'm');
    try {
      const first = spawnCli(['import', server.url(), '--out', out]);
      await waitFor(() => litter(dir).length > 0);
      const second = await runCli(['import', gguf, '--out', out]);
      expect(second.code, second.stderr).toBe(0);
      expect((await first.exit).code).toBe(1);
      expect(first.stderr().trimEnd().split('\n').pop()).toMatch(
        /--out .*m was written by another run while this one worked; it is left as that run wrote it .*\[bad_argument\]$/,
      );
      expect(readdirSync(out).sort()).toContain('model.safetensors');
      expect(litter(dir)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a valid 240-character --out: the temporary name stays within the file system’s limit', async () => {
    const out = join(work, 'o'.repeat(240));
    const r = await runCli(['import', gguf, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out)).toContain('config.json');
  });
});

describe('a zip given to import', () => {
  it('an export is named as one; any other zip is asked to be unzipped', async () => {
    const zip = (name: string, files: string[]) => {
      const path = join(work, name);
      const py = `import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1],'w') as z:\n  for f in sys.argv[2:]: z.writestr(f,'{}')`;
      execFileSync('python3', ['-c', py, path, ...files]);
      return path;
    };
    const ours = zip('export.zip', ['config.json', 'shrinkray.json', 'onnx/model.onnx']);
    expect(oneLine(await runCli(['import', ours, '--out', join(work, 'z1')]))).toMatch(
      /export\.zip is a Shrinkray export \(a zip holding shrinkray\.json\): it is already compressed; unzip it and give the folder to shrinkray eval or generate \[bad_argument\]$/,
    );
    const other = zip('other.zip', ['config.json', 'model.safetensors']);
    expect(oneLine(await runCli(['import', other, '--out', join(work, 'z2')]))).toMatch(
      /other\.zip is a zip archive, not a model file: unzip it/,
    );
  });
});

/** A small tmpfs, where the test runs as root and may mount one (else the disk-full cases are skipped). */
function smallDisk(path: string, bytes: number): boolean {
  if (process.getuid?.() !== 0) return false;
  mkdirSync(path, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', path], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('a full disk', () => {
  const disk = join(work, 'full');
  const mounted = smallDisk(disk, 512 * 1024);
  afterAll(() => {
    if (mounted) execFileSync('umount', [disk]);
  });

  it.skipIf(!mounted)('import from disk: one quota_exceeded line naming --out; nothing left', async () => {
    const line = oneLine(await runCli(['import', gguf, '--out', join(disk, 'm')]));
    expect(line).toMatch(/^shrinkray import: --out .*full[\\/]m cannot be written: the disk is full \[quota_exceeded\]$/);
    expect(readdirSync(disk)).toEqual([]);
  });

  it.skipIf(!mounted)('a URL download: not retried as a connection, and its part file removed', async () => {
    const server = await startScriptedServer(fileBytes(gguf), () => ({ serve: true }));
    try {
      const line = oneLine(await runCli(['import', server.url(), '--out', join(disk, 'u')]));
      expect(line).toMatch(/the download's part file .*full[\\/]u\.part\.gguf cannot be written: the disk is full \[quota_exceeded\]$/);
      expect(readdirSync(disk)).toEqual([]);
      // The range the disk filled in was not asked for again (a failing connection would be, 5 times).
      const download = server.requests.filter((r) => r.method === 'GET' && r.range && r.range[1] - r.range[0] + 1 === 256 * 1024);
      const starts = download.map((r) => r.range![0]);
      expect(new Set(starts).size, starts.join(' ')).toBe(starts.length);
    } finally {
      await server.close();
    }
  });
});

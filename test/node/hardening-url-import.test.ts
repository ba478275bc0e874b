import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';
import { fileBytes, honest, startScriptedServer, storiesGguf, type Answer, type ScriptedRequest } from './url-import-rig.ts';

/**
 * `shrinkray import http://…/model.gguf` against servers that lie, stall and drip (issue 21,
 * items 1, 6, 13, 14 and the short magic of 15): a symlink planted at the part file's name is
 * refused, never written through; silence and a dripping body end the attempt after the stall
 * timeout and are retried like a cut; a cut first request is retried; a URL's file name and
 * credentials never reach the terminal; an error that cannot succeed is not retried.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-url-hardening-'));
let gguf: Uint8Array;
beforeAll(async () => {
  gguf = fileBytes(await storiesGguf());
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** One run against a server answering by `script`; the server is closed after. */
const FAST = ['--retries', '1', '--stall-timeout', '0.3']; // for runs that must fail: one retry, a short stall
async function importWith(script: (r: ScriptedRequest) => Answer, out: string, extra: string[] = [], name?: string) {
  const server = await startScriptedServer(gguf, script);
  try {
    const run = await runCli(['import', server.url(name), '--out', out, ...extra]);
    return { ...run, requests: server.requests, url: server.url(name) };
  } finally {
    await server.close();
  }
}

function oneLine(stderr: string): string {
  const lines = stderr
    .trimEnd()
    .split('\n')
    .filter((l) => !l.startsWith('downloading '));
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
}

const noLitter = (dir: string) => expect(readdirSync(dir).filter((f) => f.includes('.shrinkray-') || f.includes('.part.gguf'))).toEqual([]);

describe('the part file is ours alone', () => {
  it('a symlink planted at <out>.part.gguf or .part.gguf.json is refused; its target is never written', async () => {
    for (const suffix of ['.part.gguf', '.part.gguf.json']) {
      const dir = join(work, `plant${suffix}`);
      mkdirSync(dir);
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'precious');
      const out = join(dir, 'm');
      symlinkSync(victim, `${out}${suffix}`);
      const run = await importWith(honest, out);
      expect(run.code).toBe(1);
      expect(oneLine(run.stderr)).toMatch(
        new RegExp(`the download's part file .*m${suffix.replace(/\./g, '\\.')} is a symbolic link, not a file this download wrote`),
      );
      expect(readFileSync(victim, 'utf8')).toBe('precious');
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir).filter((f) => f.startsWith('.m.shrinkray-'))).toEqual([]);
    }
  });
});

describe('stalls end, and are retried', () => {
  it('a server that never answers: the attempt ends after the stall timeout, is retried, then fails naming the URL', async () => {
    const out = join(work, 'silent');
    const run = await importWith(() => ({ silent: true }), out, FAST);
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toMatch(
      /stories260K-F32\.gguf: could not fetch http:\/\/127\.0\.0\.1:\d+\/.* after 1 retries: no answer within 0\.3 s/,
    );
    expect(run.requests).toHaveLength(2); // the first try and one retry
    expect(existsSync(out)).toBe(false);
  });

  it('a body dripping a few bytes at a time ends, though every attempt brings bytes', async () => {
    mkdirSync(join(work, 'drip'));
    const out = join(work, 'drip', 'm');
    // Honest header and magic reads; every range of the download itself drips 8 bytes per 40 ms.
    const run = await importWith(
      (r) => (r.range && r.range[1] - r.range[0] > 100_000 ? { serve: true, pieceBytes: 8, pieceMs: 40 } : honest()),
      out,
      FAST,
    );
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toMatch(
      /kept failing at byte \d+: only \d+ bytes in 0\.\d s \(a body dripping slower than 1024 bytes per 0\.3 s\)/,
    );
    noLitter(join(work, 'drip'));
  });
});

describe('errors that cannot succeed are not retried', () => {
  it('a port fetch refuses to use fails at once, naming the URL', async () => {
    const run = await runCli(['import', 'http://127.0.0.1:1/m.gguf', '--out', join(work, 'bad-port')]);
    expect(oneLine(run.stderr)).toBe(
      'shrinkray import: m.gguf: http://127.0.0.1:1/m.gguf cannot be fetched: fetch failed (bad port) [download_error]',
    );
  });
});

describe('the first request (the magic)', () => {
  it('cut once: retried, and the import completes', async () => {
    let cuts = 0;
    const run = await importWith(
      (r) => (r.method === 'GET' && cuts++ === 0 ? { serve: true, cutAfter: 2 } : honest()),
      join(work, 'cut-once'),
    );
    expect(run.code, run.stderr).toBe(0);
  });

  it('cut every time: one ShrinkrayError naming the URL', async () => {
    const run = await importWith((r) => (r.method === 'GET' ? { serve: true, cutAfter: 2 } : honest()), join(work, 'cut-always'), FAST);
    expect(run.code).toBe(1);
    const line = oneLine(run.stderr);
    expect(line).toMatch(
      /stories260K-F32\.gguf: the connection to http:\/\/127\.0\.0\.1:\d+\/models\/stories260K-F32\.gguf kept failing: .*\[download_error\]$/,
    );
    expect(line).not.toMatch(/unexpected error/);
  });

  it('a file shorter than the magic is "too short", and more bytes than asked are not "not a GGUF"', async () => {
    const tiny = await startScriptedServer(new TextEncoder().encode('GG'), honest);
    try {
      const run = await runCli(['import', tiny.url('tiny.gguf'), '--out', join(work, 'tiny')]);
      expect(oneLine(run.stderr)).toMatch(/tiny\.gguf: http:.*tiny\.gguf is 2 bytes long, too short to be a GGUF file \[bad_file\]$/);
    } finally {
      await tiny.close();
    }
    const run = await importWith(
      (r) => (r.range?.[0] === 0 && r.range[1] === 3 ? { serve: true, extra: 8 } : honest()),
      join(work, 'long-magic'),
    );
    expect(run.code, run.stderr).toBe(0);
  });
});

describe('what reaches the terminal', () => {
  it('a file name with ESC and newline bytes is escaped everywhere it is printed', async () => {
    const name = 'evil%1b%5d0%3bpwned%07%0aforged%20line.gguf';
    const run = await importWith(honest, join(work, 'evil'), [], name);
    expect(run.code, run.stderr).toBe(0);
    const all = run.stdout + run.stderr;
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    expect(all).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(all).toContain('evil\\u001b]0;pwned\\u0007\\nforged line.gguf');
    for (const line of run.stderr.trimEnd().split('\n')) expect(line).toMatch(/^downloading evil/);
  });

  it('credentials in a URL are sent, never echoed; refused credentials are not retried', async () => {
    const expected = `Basic ${Buffer.from('user:s3cret').toString('base64')}`;
    const script = (r: ScriptedRequest): Answer => (r.headers.authorization === expected ? honest() : { status: 401 });
    const server = await startScriptedServer(gguf, script);
    try {
      const withCreds = (pass: string) => server.url().replace('http://', `http://user:${pass}@`);
      const ok = await runCli(['import', withCreds('s3cret'), '--out', join(work, 'creds')]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout + ok.stderr).not.toMatch(/s3cret|user:/);
      const before = server.requests.length;
      const bad = await runCli(['import', withCreds('wr0ng'), '--out', join(work, 'creds-bad')]);
      expect(oneLine(bad.stderr)).toMatch(
        /HTTP 401 .* from http:\/\/127\.0\.0\.1:\d+\/models\/stories260K-F32\.gguf .*\[download_error\]$/,
      );
      expect(bad.stderr).not.toMatch(/wr0ng|user:/);
      expect(server.requests.length - before).toBe(1); // not retried
    } finally {
      await server.close();
    }
  });
});

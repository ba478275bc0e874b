import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importGgufUrl } from '../../src/cli/import-gguf-url.ts';
import { openGgufUrl } from '../../src/fetch/gguf-url.ts';
import { readGguf } from '../../src/formats/gguf.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { writeBpeModel } from '../gguf/gguf-fixtures.ts';
import { startHubServer, type HubServer } from '../hub/hub-server.ts';
import { realTokenizer } from '../real-tokenizers.ts';
import { runCli } from './run-cli.ts';

/**
 * `shrinkray import https://…/model.gguf` against the loopback hub: the header is read by
 * Range requests, the file comes down by ranged GETs into a part file (a connection cut in the
 * middle of a tensor resumes where it stopped; a later run resumes what an earlier one left),
 * and the folder written is byte for byte the one a local import of the same file writes. A
 * server without Range support is refused with a clear error rather than downloaded whole.
 */
const REPO = 'org/gguf';
const FILE = 'llama3-tiny.gguf';
let work: string;
let hub: HubServer;
let gguf: string; // the served file
let local: string; // the folder a local import writes
let embdOffset: number;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shrinkray-gguf-url-'));
  await mkdir(join(work, 'hub', REPO), { recursive: true });
  gguf = join(work, 'hub', REPO, FILE);
  // ~12 MB, its header ~8 MB (Llama 3's 128256 tokens and 280147 merges): the parser needs several ranges.
  await writeBpeModel(gguf, realTokenizer('llama3').dir, [
    ...['--pre', 'llama-bpe', '--rows', '128256', '--bos', '128000', '--eos', '128001', '--eot', '128009'],
  ]);
  await writeFile(join(work, 'hub', REPO, 'notes.txt'), 'not a model\n');
  embdOffset = (await readGguf(await fileSource(gguf))).tensors.get('token_embd.weight')!.fileOffset;
  local = join(work, 'local');
  expect((await runCli(['import', gguf, '--out', local])).code).toBe(0);
  hub = await startHubServer({ root: join(work, 'hub') });
});
afterAll(async () => {
  await hub?.close();
  await rm(work, { recursive: true, force: true });
});
beforeEach(() => hub.reset());

const url = (file = FILE) => `${hub.url}/${REPO}/resolve/main/${file}`;
const key = `${REPO}/${FILE}`;
const sameFolder = (dir: string) => {
  const names = readdirSync(local).sort();
  expect(readdirSync(dir).sort()).toEqual(names);
  for (const n of names) expect(readFileSync(join(dir, n)).equals(readFileSync(join(local, n))), n).toBe(true);
};

describe('GGUF from a URL', () => {
  it('imports by ranges through a connection cut in the middle of a tensor, to the local import’s bytes', async () => {
    const size = statSync(gguf).size;
    // Past what the header parser reads: the cut hits the download, inside token_embd.weight.
    hub.setFaults({ [key]: { cutAtFileOffset: size - 200_000 } });
    const out = join(work, 'from-url');
    const run = await runCli(['import', url(), '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    sameFolder(out);
    expect(hub.stats.cuts[key]).toBe(1);
    // Never the whole file per read: the header's ranges plus one download plus what one cut lost.
    const served = hub.stats.bytesServed[key]!;
    expect(served).toBeGreaterThan(size);
    expect(served).toBeLessThan(2 * size);
    expect(hub.stats.requests[key]).toBeGreaterThan(4); // HEADs, the magic, the header's ranges, the file's ranges
    expect(existsSync(`${out}.part.gguf`)).toBe(false);
  });

  it('resumes in a later run what an interrupted run left in its part file', async () => {
    const out = join(work, 'resumed');
    const cutAt = statSync(gguf).size - 500_000;
    hub.setFaults({ [key]: { cutAtFileOffset: cutAt, cutTimes: 'always' } });
    await expectShrinkrayError(importGgufUrl(url(), out, { retries: 1, backoffMs: 1 }), 'download_error', /kept failing at byte/);
    const kept = statSync(`${out}.part.gguf`).size;
    expect(kept).toBeGreaterThan(embdOffset);
    hub.reset();
    const { parts, done } = await importGgufUrl(url(), out);
    // The second run fetched the header's ranges and the rest of the file only.
    const size = statSync(gguf).size;
    expect(hub.stats.bytesServed[key]!).toBeLessThan(size - kept + embdOffset + 4 * 1024 * 1024);
    expect(parts.ir.config.vocabSize).toBe(128256);
    await done();
    expect(existsSync(`${out}.part.gguf`)).toBe(false);
  });

  it('resumes a cut while the header is read by ranges', async () => {
    hub.setFaults({ [key]: { cutAtFileOffset: 1_000_000 } }); // inside the tokenizer's metadata
    const remote = await openGgufUrl(url(), { backoffMs: 1 });
    const file = await readGguf(remote.source);
    expect(hub.stats.cuts[key]).toBe(1);
    expect(file.metadata['tokenizer.ggml.pre']).toBe('llama-bpe');
    expect(file.tensors.get('token_embd.weight')!.fileOffset).toBe(embdOffset);
    expect(hub.stats.bytesServed[key]!).toBeLessThan(statSync(gguf).size);
  });

  it('refuses a server without Range support, naming the file and what to do', async () => {
    hub.setFaults({ [key]: { ignoreRange: true } });
    const run = await runCli(['import', url(), '--out', join(work, 'no-range')]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(
      /llama3-tiny\.gguf: .* does not answer Range requests \(HTTP 200 to 'Range: bytes=0-3'\).*import it from disk/,
    );
    expect(hub.stats.bytesServed[key] ?? 0).toBeLessThan(statSync(gguf).size); // the 200 body was dropped, not read
    expect(existsSync(join(work, 'no-range'))).toBe(false);
  });

  it('refuses what is not a GGUF, and a missing file', async () => {
    await expectShrinkrayError(
      importGgufUrl(url('notes.txt'), join(work, 'x'), { retries: 0 }),
      'bad_file',
      /notes\.txt: .* is not a GGUF file \(it starts with bytes 6e 6f 74 20/,
    );
    await expectShrinkrayError(
      importGgufUrl(url('absent.gguf'), join(work, 'y'), { retries: 0 }),
      'missing_file',
      /absent\.gguf: not found/,
    );
  });
});

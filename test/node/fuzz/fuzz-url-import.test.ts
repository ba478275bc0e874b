import fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { importGgufUrlFolder } from '../../../src/cli/import-gguf-url.ts';
import { runCli } from '../run-cli.ts';
import { fileBytes, startScriptedServer, storiesGguf, type Answer, type ScriptedServer } from '../url-import-rig.ts';
import { fuzz } from './fuzz-budget.ts';

/**
 * The URL import as a state machine against a server whose every answer is drawn: a status
 * (408, 429, 500, 503 retried; 401, 403, 404, 410 final), the asked range or the whole file
 * (a server ignoring Range), more bytes than asked, a connection cut after a drawn number of
 * bytes, silence, a drip. The import either writes the folder a local import of the same file
 * writes, byte for byte, or ends in a ShrinkrayError; either way no temporary folder is left,
 * --out exists only on success, and a part file kept to resume holds only the file's own bytes.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-fuzz-url-'));
let gguf: Uint8Array;
let reference: Map<string, Buffer>;
let server: ScriptedServer;
let queue: Answer[] = [];

beforeAll(async () => {
  const path = await storiesGguf();
  gguf = fileBytes(path);
  const local = join(work, 'local');
  expect((await runCli(['import', path, '--out', local])).code).toBe(0);
  reference = new Map(readdirSync(local).map((f) => [f, readFileSync(join(local, f))]));
  // Each request takes the next drawn answer; when they run out, the server is honest.
  server = await startScriptedServer(gguf, () => queue.shift() ?? { serve: true });
  vi.spyOn(console, 'error').mockImplementation(() => undefined); // the download's progress lines
});
afterAll(async () => {
  vi.restoreAllMocks();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

const answer: fc.Arbitrary<Answer> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Answer>({ serve: true }) },
  { weight: 2, arbitrary: fc.constantFrom<Answer>({ status: 408 }, { status: 429 }, { status: 500 }, { status: 503 }) },
  { weight: 1, arbitrary: fc.constantFrom<Answer>({ status: 401 }, { status: 403 }, { status: 404 }, { status: 410 }) },
  { weight: 1, arbitrary: fc.constant<Answer>({ serve: true, ignoreRange: true }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4096 }).map<Answer>((extra) => ({ serve: true, extra })) },
  { weight: 3, arbitrary: fc.nat({ max: 300_000 }).map<Answer>((cutAfter) => ({ serve: true, cutAfter })) },
  { weight: 1, arbitrary: fc.constant<Answer>({ silent: true }) },
  { weight: 1, arbitrary: fc.constant<Answer>({ serve: true, pieceBytes: 16, pieceMs: 25 }) },
);

let run = 0;

describe('URL import, fuzzed', () => {
  it('any sequence of answers: the local import’s folder, or a ShrinkrayError and nothing left but a true part file', async () => {
    const tally = await fuzz(
      fc.array(answer, { maxLength: 14 }),
      16,
      async (answers) => {
        queue = [...answers];
        const dir = join(work, `run-${++run}`);
        const out = join(dir, 'm');
        try {
          await importGgufUrlFolder(server.url(), out, { force: false, retries: 2, backoffMs: 1, maxBackoffMs: 4, stallMs: 120 });
          for (const [name, bytes] of reference) expect(readFileSync(join(out, name)).equals(bytes), name).toBe(true);
          expect(readdirSync(dir).sort()).toEqual(['m']);
        } catch (e) {
          expect(existsSync(out), 'a failed import left --out').toBe(false);
          throw e;
        } finally {
          if (existsSync(dir)) {
            expect(readdirSync(dir).filter((f) => f.includes('.shrinkray-'))).toEqual([]);
            const part = join(dir, 'm.part.gguf');
            if (existsSync(part))
              expect(Buffer.from(gguf.subarray(0, readFileSync(part).byteLength)).equals(readFileSync(part))).toBe(true);
          }
        }
      },
      { msPerInput: 5000 },
    );
    expect(tally.runs).toBeGreaterThanOrEqual(16);
  });
});

import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readSafetensors, safetensorsHeader, writeSafetensors } from '../../src/formats/safetensors.ts';
import { concatBytes } from '../concat-bytes.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { STORIES_DIR } from './fixture-paths.ts';
import { runCli } from './run-cli.ts';

/**
 * The smaller defects of issue 10, item 12, through the readers and the CLI: safetensors
 * headers that are not UTF-8 or name a tensor twice, shard indexes that point outside the
 * folder or place one tensor in two shards, raw header bytes that would reach the terminal,
 * and a 100 KB recipe echoed whole.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-formats-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A safetensors file whose JSON header is exactly `header` (padded), with `dataBytes` zero bytes after it. */
function rawSafetensors(header: Uint8Array, dataBytes: number): Uint8Array {
  const padded = Math.ceil(header.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded + dataBytes).fill(0x20, 8, 8 + padded);
  new DataView(out.buffer).setUint32(0, padded, true);
  out.set(header, 8);
  return out;
}

describe('safetensors headers', () => {
  it('invalid UTF-8 is refused, not decoded into replacement characters', async () => {
    const header = concatBytes([new TextEncoder().encode('{"w\u00e9": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}')]);
    const bad = header.slice();
    bad[4] = 0xff; // inside the name: not a UTF-8 sequence
    await readSafetensors(bytesSource(rawSafetensors(header, 4), 'ok.safetensors'));
    await expectShrinkrayError(
      readSafetensors(bytesSource(rawSafetensors(bad, 4), 'bad.safetensors')),
      'bad_file',
      'bad.safetensors: not a valid safetensors file: the header is not valid UTF-8',
    );
  });

  it('a tensor named twice is refused (JSON would keep the second silently)', async () => {
    const text =
      '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}';
    await expectShrinkrayError(
      readSafetensors(bytesSource(rawSafetensors(new TextEncoder().encode(text), 8), 'twice.safetensors')),
      'bad_file',
      "twice.safetensors: not a valid safetensors file: the header names 'w' twice (JSON would silently keep the second)",
    );
    // Escapes spell the same key: still twice.
    const escaped = text.replace(
      '"w": {"dtype": "F32", "shape": [1], "data_offsets": [4',
      '"\\u0077": {"dtype": "F32", "shape": [1], "data_offsets": [4',
    );
    await expectShrinkrayError(
      readSafetensors(bytesSource(rawSafetensors(new TextEncoder().encode(escaped), 8), 'twice.safetensors')),
      'bad_file',
      /names 'w' twice/,
    );
    // Equal keys in different objects are fine.
    const fine = safetensorsHeader([
      { name: 'a', dtype: 'F32', shape: [1] },
      { name: 'b', dtype: 'F32', shape: [1] },
    ]);
    expect((await readSafetensors(bytesSource(concatBytes([fine, new Uint8Array(8)]), 'fine.safetensors'))).tensors.size).toBe(2);
  });

  it('garbage header bytes reach the terminal escaped, never raw', async () => {
    const dir = join(work, 'garbage');
    cpSync(STORIES_DIR, dir, { recursive: true });
    const evil = new TextEncoder().encode('\u001b[31m\u001b]0;owned\u0007\u202eevil\r\n');
    writeFileSync(join(dir, 'model.safetensors'), rawSafetensors(evil, 0));
    const r = await runCli(['generate', dir, '--prompt', 'Hi']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /model\.safetensors: not a valid safetensors file: the header is not JSON \(.*\\u001b\[31m.*\) \[bad_file\]\n$/,
    );
    expect(r.stderr.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/); // eslint-disable-line no-control-regex -- the point
  });
});

describe('shard indexes', () => {
  async function sharded(weightMap: Record<string, string>, shards: Record<string, [string, number][]>): Promise<string> {
    const dir = join(work, `sharded-${Object.keys(shards).join('-').replace(/[^\w]/g, '')}`);
    cpSync(STORIES_DIR, dir, { recursive: true });
    rmSync(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    for (const [file, tensors] of Object.entries(shards)) {
      writeFileSync(
        join(dir, file),
        Buffer.concat(
          writeSafetensors(tensors.map(([name, size]) => ({ name, dtype: 'F32', shape: [size], data: new Float32Array(size) }))),
        ),
      );
    }
    return dir;
  }

  it.each(['../model.safetensors', 'sub/a.safetensors', '/etc/passwd', '.hidden.safetensors', 'a.bin'])(
    'a shard named %s is refused',
    async (shard) => {
      const dir = await sharded({ 'model.norm.weight': shard }, {});
      const r = await runCli(['import', dir, '--out', join(work, 'never')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /model\.safetensors\.index\.json: invalid shard file name ".*"; expected a plain \*\.safetensors file name beside it \[bad_file\]/,
      );
    },
  );

  it('one tensor in two shards is refused', async () => {
    const dir = await sharded(
      { 'model.norm.weight': 'a.safetensors', x: 'b.safetensors' },
      {
        'a.safetensors': [['model.norm.weight', 64]],
        'b.safetensors': [
          ['x', 1],
          ['model.norm.weight', 64],
        ],
      },
    );
    const r = await runCli(['import', dir, '--out', join(work, 'never')]);
    expect(r.stderr).toMatch(/b\.safetensors: tensor 'model\.norm\.weight' is also in .*a\.safetensors; which one is meant\? \[bad_file\]/);
  });
});

describe('recipes', () => {
  it('a 100 KB recipe is not echoed whole', async () => {
    const recipe = `int4-g32+${'x'.repeat(100_000)}`;
    const r = await runCli(['compress', STORIES_DIR, '--recipe', recipe, '--out', join(work, 'never')]);
    expect(r.code).toBe(1);
    expect(r.stderr.length).toBeLessThan(1000);
    expect(r.stderr).toMatch(
      /^shrinkray compress: recipe 'int4-g32\+x+… \(99929 more characters\)': step 'x+… \(99920 more characters\)' is unknown\. Known steps: .*\[bad_recipe\]\n$/,
    );
  });
});

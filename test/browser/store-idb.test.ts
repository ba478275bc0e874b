import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CHUNK_BYTES, openModelStore, type IdbModelStore } from '../../src/store/idb-store.ts';
import type { ModelManifest } from '../../src/store/manifest.ts';
import { requestPersistence } from '../../src/store/quota.ts';

/**
 * The model store on Chromium's real IndexedDB: a 300 MB file in 8 MiB chunks written
 * and read back byte for byte (the throughput is printed, never asserted), an interrupted
 * write that leaves the earlier state intact and is collected at the next start, and the
 * storage figures.
 */

const stores: IdbModelStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

async function newStore(name: string): Promise<IdbModelStore> {
  const s = await openModelStore({ name, collectGarbage: false });
  stores.push(s);
  return s;
}

/** Chunk `i` of the test file: a fixed pattern with the chunk's index stamped at the front. */
function fillChunk(buf: Uint8Array, i: number): Uint8Array {
  new DataView(buf.buffer, buf.byteOffset).setUint32(0, i, true);
  return buf;
}

function patternBuffer(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('IndexedDB model store in Chromium', () => {
  it('writes a 300 MB file in chunks and reads it back identically', async () => {
    const name = `store-big-${Date.now()}`;
    const store = await newStore(name);
    const chunk = DEFAULT_CHUNK_BYTES;
    const count = Math.ceil((300 * 1024 * 1024) / chunk);
    const base = patternBuffer(chunk);
    const w = await store.stageFile('big', { name: 'big.bin', expectedSize: count * chunk });
    for (let i = 0; i < count; i++) await w.write(fillChunk(base, i));
    const info = await w.finish();
    await store.commitModel({
      id: 'big',
      source: { kind: 'local', name: 'big' },
      files: [{ path: 'big.bin', fileId: info.fileId, size: info.size, sha256: info.sha256 }],
    });
    store.close();

    const again = await newStore(name);
    const src = await again.openFile(info.fileId, 'big.bin');
    expect(src.size).toBe(count * chunk);
    let mismatches = 0;
    for (let i = 0; i < count; i++) {
      const got = await src.read(i * chunk, chunk);
      const want = fillChunk(base, i);
      for (let j = 0; j < chunk; j += 4099) if (got[j] !== want[j]) mismatches++;
      if (new DataView(got.buffer, got.byteOffset).getUint32(0, true) !== i) mismatches++;
    }
    expect(mismatches).toBe(0);
    // A read across a chunk boundary stitches two chunks.
    const across = await src.read(chunk - 3, 10);
    expect(Array.from(across.subarray(3, 7))).toEqual([1, 0, 0, 0]); // chunk 1's stamped index
    await again.deleteModel('big');
    expect(await again.db.count('chunks')).toBe(0);
  });

  it('an interrupted write leaves earlier models intact and is collected at the next start', async () => {
    const name = `store-interrupt-${Date.now()}`;
    const first = await newStore(name);
    const a = await first.stageFile('a', { name: 'config.json' });
    await a.write(new TextEncoder().encode('{"model_type":"llama"}'));
    const fa = await a.finish();
    const manifest: ModelManifest = {
      id: 'm',
      source: { kind: 'local', name: 'm' },
      files: [{ path: 'config.json', fileId: fa.fileId, size: fa.size, sha256: fa.sha256 }],
    };
    await first.commitModel(manifest);

    // A compression's output, cut off mid-way (the tab closes): staged chunks, no commit.
    const b = await first.stageFile('b', { name: 'onnx/model.onnx' });
    await b.write(patternBuffer(3 * DEFAULT_CHUNK_BYTES + 5));
    await expect(
      first.commitModel({
        ...manifest,
        id: 'm2',
        files: [
          ...manifest.files,
          { path: 'onnx/model.onnx', fileId: b.fileId, size: 3 * DEFAULT_CHUNK_BYTES + 5, sha256: '0'.repeat(64) },
        ],
      }),
    ).rejects.toMatchObject({ code: 'missing_file', message: expect.stringMatching(/file 'onnx\/model\.onnx' is not stored/) });
    first.close();

    const next = await openModelStore({ name, gc: { orphanAfterMs: 0 } }); // the next start collects
    stores.push(next);
    expect((await next.listModels()).map((m) => m.id)).toEqual(['m']);
    expect(await next.listStaged()).toEqual([]);
    expect(await next.db.count('chunks')).toBe(1); // config.json's one chunk
    const src = await next.openFile(fa.fileId);
    expect(new TextDecoder().decode(await src.read(0, src.size))).toBe('{"model_type":"llama"}');
  });

  it('reports usage against the quota and asks for persistence', async () => {
    const store = await newStore(`store-usage-${Date.now()}`);
    const usage = await store.usage();
    expect(usage.quota).toBeGreaterThan(0);
    expect(usage.usage).toBeGreaterThanOrEqual(0);
    expect(typeof (await requestPersistence())).toBe('boolean'); // headless Chromium may refuse; that is not an error
  });
});

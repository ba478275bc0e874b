import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openModelStore, type IdbModelStore } from '../../src/store/idb-store.ts';
import type { ModelManifest } from '../../src/store/manifest.ts';
import type { StoredFileInfo } from '../../src/store/store-types.ts';

/**
 * The model store on fake-indexeddb: chunked files read back byte for byte, atomic commits,
 * resume from staged chunks, abort, quota failures mid-write, and garbage collection.
 */

const CHUNK = 1024; // small chunks so a few KB span many of them
let dbCount = 0;
const open: IdbModelStore[] = [];

async function newStore(name = `store-test-${++dbCount}`, collectGarbage = false): Promise<IdbModelStore> {
  const s = await openModelStore({ name, chunkBytes: CHUNK, collectGarbage });
  open.push(s);
  return s;
}

afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function storeBytes(store: IdbModelStore, key: string, bytes: Uint8Array, pieces = 7): Promise<StoredFileInfo> {
  const w = await store.stageFile(key, { name: key });
  const step = Math.ceil(bytes.byteLength / pieces);
  for (let i = 0; i < bytes.byteLength; i += step) await w.write(bytes.subarray(i, i + step));
  return w.finish();
}

function manifest(id: string, files: [string, StoredFileInfo][]): ModelManifest {
  return {
    id,
    source: { kind: 'local', name: id },
    files: files.map(([path, f]) => ({ path, fileId: f.fileId, size: f.size, sha256: f.sha256 })),
  };
}

describe('chunked files', () => {
  it('stores a file in chunks and reads any range back identically', async () => {
    const store = await newStore();
    const bytes = pattern(10 * CHUNK + 123);
    const info = await storeBytes(store, 'a.bin', bytes);
    expect(info.size).toBe(bytes.byteLength);
    expect(info.sha256).toBe(sha(bytes));
    const src = await store.openFile(info.fileId);
    expect(await src.read(0, bytes.byteLength)).toEqual(bytes);
    for (const [off, len] of [
      [0, 1],
      [CHUNK - 3, 7],
      [5 * CHUNK, CHUNK],
      [3 * CHUNK + 17, 4 * CHUNK],
      [bytes.byteLength - 5, 5],
      [100, 0],
    ]) {
      expect(await src.read(off!, len!)).toEqual(bytes.subarray(off!, off! + len!));
    }
    await expect(src.read(bytes.byteLength - 2, 3)).rejects.toMatchObject({ code: 'bad_file' });
  });

  it('checks the expected size and sha-256, and drops a file that does not match', async () => {
    const store = await newStore();
    const bytes = pattern(3000);
    const wrongSha = await store.stageFile('x', { name: 'model.safetensors', expectedSha256: sha(pattern(3000, 2)) });
    await wrongSha.write(bytes);
    await expect(wrongSha.finish()).rejects.toThrow(/model\.safetensors: sha-256 mismatch/);
    const short = await store.stageFile('y', { name: 'model.safetensors', expectedSize: 4000 });
    await short.write(bytes);
    await expect(short.finish()).rejects.toMatchObject({
      code: 'bad_file',
      message: expect.stringMatching(/expected 4000 bytes, got 3000/),
    });
    const long = await store.stageFile('z', { name: 'config.json', expectedSize: 10 });
    await expect(long.write(bytes)).rejects.toThrow(/config\.json: got more than the expected 10 bytes/);
    expect(await store.listStaged()).toEqual([]);
    expect(await store.db.count('chunks')).toBe(0);
  });
});

describe('atomic commit', () => {
  it('makes a model visible only when committed, and only with finished files', async () => {
    const store = await newStore();
    const a = await storeBytes(store, 'a', pattern(5000));
    expect(await store.listModels()).toEqual([]);
    const unfinished = await store.stageFile('b', { name: 'b' });
    await unfinished.write(pattern(2500));
    const bogus: StoredFileInfo = { fileId: unfinished.fileId, name: 'b', size: 2500, sha256: sha(pattern(2500)) };
    await expect(
      store.commitModel(
        manifest('m', [
          ['a', a],
          ['b', bogus],
        ]),
      ),
    ).rejects.toThrow(/commit of model 'm': file 'b' is not stored/);
    expect(await store.listModels()).toEqual([]);
    await store.commitModel(manifest('m', [['a', a]]));
    const models = await store.listModels();
    expect(models.map((m) => m.id)).toEqual(['m']);
    expect((await store.listStaged()).map((s) => s.stageKey)).toEqual(['b']); // the commit consumed stage 'a'
    expect(await (await store.openFile(a.fileId)).read(0, 5000)).toEqual(pattern(5000));
    const byPath = await store.openModelFile('m', 'a');
    expect([byPath.name, byPath.size]).toEqual(['a', 5000]);
    await expect(store.openModelFile('m', 'tokenizer.json')).rejects.toThrow(/model 'm' has no file 'tokenizer.json'/);
    await expect(store.openModelFile('nope', 'a')).rejects.toMatchObject({ code: 'missing_file' });
  });

  it('replacing and deleting models frees only files no other model uses', async () => {
    const store = await newStore();
    const shared = await storeBytes(store, 's', pattern(3000, 3));
    const old = await storeBytes(store, 'o', pattern(3000, 4));
    await store.commitModel(
      manifest('m1', [
        ['s', shared],
        ['o', old],
      ]),
    );
    await store.commitModel(manifest('m2', [['s', shared]]));
    const fresh = await storeBytes(store, 'n', pattern(100, 5));
    await store.commitModel(
      manifest('m1', [
        ['s', shared],
        ['n', fresh],
      ]),
    );
    await expect(store.openFile(old.fileId, 'o')).rejects.toMatchObject({ code: 'missing_file' });
    await store.deleteModel('m1');
    expect((await store.listModels()).map((m) => m.id)).toEqual(['m2']);
    expect(await (await store.openFile(shared.fileId)).read(0, 3000)).toEqual(pattern(3000, 3));
    await expect(store.openFile(fresh.fileId)).rejects.toMatchObject({ code: 'missing_file' });
    expect(await store.db.count('chunks')).toBe(3); // only the shared file's chunks remain
    expect((await store.usage()).modelBytes).toBe(3000);
  });
});

describe('resume, abort and garbage collection', () => {
  it('resumes a staged write in a new session from the stored chunks', async () => {
    const name = `store-test-${++dbCount}`;
    const bytes = pattern(20 * CHUNK + 500);
    const first = await newStore(name);
    const w = await first.stageFile('dl', {
      name: 'model.safetensors',
      expectedSize: bytes.byteLength,
      expectedSha256: sha(bytes),
      resumable: true,
    });
    await w.write(bytes.subarray(0, 7 * CHUNK + 300)); // 300 bytes stay buffered and are lost with the session
    first.close();

    const second = await newStore(name, true); // garbage collection on open keeps resumable stages
    const resumed = await second.stageFile('dl', {
      name: 'model.safetensors',
      expectedSize: bytes.byteLength,
      expectedSha256: sha(bytes),
      resumable: true,
    });
    expect(resumed.position).toBe(7 * CHUNK);
    await resumed.write(bytes.subarray(resumed.position));
    const info = await resumed.finish();
    expect(info.sha256).toBe(sha(bytes));
    expect(await (await second.openFile(info.fileId)).read(0, bytes.byteLength)).toEqual(bytes);
  });

  it('an aborted non-resumable write leaves nothing behind', async () => {
    const store = await newStore();
    const w = await store.stageFile('c', { name: 'onnx/model.onnx' });
    await w.write(pattern(4 * CHUNK));
    const ac = new AbortController();
    ac.abort();
    await expect(w.write(pattern(10), ac.signal)).rejects.toMatchObject({ code: 'aborted' });
    expect(await store.listStaged()).toEqual([]);
    expect(await store.db.count('chunks')).toBe(0);
  });

  it('collects orphans of an earlier session but keeps models and resumable stages', async () => {
    const name = `store-test-${++dbCount}`;
    const first = await newStore(name);
    const kept = await storeBytes(first, 'k', pattern(2000));
    await first.commitModel(manifest('m', [['k', kept]]));
    const orphan = await first.stageFile('compress-out', { name: 'onnx/model.onnx' });
    await orphan.write(pattern(3 * CHUNK));
    const download = await first.stageFile('download', { name: 'model.safetensors', resumable: true });
    await download.write(pattern(2 * CHUNK));
    first.close();

    const second = await newStore(name);
    const report = await second.collectGarbage({ orphanAfterMs: 0 });
    expect(report).toEqual({ chunksDeleted: 3, filesDeleted: 0, stagesDeleted: 1 });
    expect((await second.listStaged()).map((s) => [s.stageKey, s.storedBytes])).toEqual([['download', 2 * CHUNK]]);
    expect(await (await second.openFile(kept.fileId)).read(0, 2000)).toEqual(pattern(2000));
  });
});

describe('quota exceeded mid-write', () => {
  it('is a clear error, nothing staged remains, and earlier models are intact', async () => {
    const store = await newStore();
    const earlier = await storeBytes(store, 'e', pattern(3000));
    await store.commitModel(manifest('earlier', [['e', earlier]]));
    const chunksBefore = await store.db.count('chunks');

    // The one hand-injected fault: filling a real quota is not feasible in a test, so the
    // real put() throws the DOMException a full disk gives, after 3 more chunks.
    const proto = IDBObjectStore.prototype;
    const realPut = proto.put;
    let puts = 0;
    proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (this.name === 'chunks' && ++puts > 3) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return realPut.apply(this, args);
    };
    try {
      const w = await store.stageFile('big', { name: 'model.safetensors' });
      await expect(w.write(pattern(10 * CHUNK))).rejects.toMatchObject({
        code: 'quota_exceeded',
        message: expect.stringMatching(/storage is full while writing 'model\.safetensors'/),
      });
    } finally {
      proto.put = realPut;
    }
    expect(await store.listStaged()).toEqual([]);
    expect(await store.db.count('chunks')).toBe(chunksBefore);
    expect((await store.listModels()).map((m) => m.id)).toEqual(['earlier']);
    expect(await (await store.openFile(earlier.fileId)).read(0, 3000)).toEqual(pattern(3000));
  });
});

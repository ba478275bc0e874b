import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadHubModel } from '../../src/worker/hub-download.ts';
import type { DownloadProgress } from '../../src/fetch/ranged-download.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { openModelStore, type IdbModelStore } from '../../src/store/idb-store.ts';
import { manifestFile } from '../../src/store/manifest.ts';
import { HUB_REPOS } from '../hub/hub-fixtures.ts';
import { useLoopbackHub } from './loopback-hub.ts';

/**
 * Downloads from the loopback hub into the store (fake-indexeddb) with Node's fetch: cut
 * connections resume without refetching, a new session resumes what the last one stored,
 * server errors are retried, and corrupt inputs fail with the file named.
 */

const CHUNK = 256 * 1024;
const fast = { backoffMs: 5, maxBackoffMs: 20 };
const hub = useLoopbackHub();
let dbCount = 0;
const stores: IdbModelStore[] = [];

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

async function newStore(name = `fetch-test-${++dbCount}`): Promise<IdbModelStore> {
  const s = await openModelStore({ name, chunkBytes: CHUNK });
  stores.push(s);
  return s;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const onDisk = (repo: string, file: string) => readFile(join(hub.root, repo, file)).then((b) => new Uint8Array(b));
const weightsKey = `${HUB_REPOS.synthetic}/model.safetensors`;

async function storedBytes(store: IdbModelStore, modelId: string, path: string): Promise<Uint8Array> {
  const m = (await store.getModel(modelId))!;
  const f = manifestFile(m, path);
  const src = await store.openFile(f.fileId, path);
  return src.read(0, src.size);
}

describe('downloading a hub model into the store', () => {
  it('downloads, verifies and commits; the stored bytes equal the served ones', async () => {
    const store = await newStore();
    const progress: DownloadProgress[] = [];
    const { manifest, plan } = await downloadHubModel({
      store,
      repo: HUB_REPOS.synthetic,
      baseUrl: hub.url,
      onProgress: (p) => progress.push(p),
      ...fast,
    });
    expect(plan.listed).toBe(true);
    expect(manifest.files.map((f) => f.path)).toEqual(['config.json', 'model.safetensors']);
    const weights = await onDisk(HUB_REPOS.synthetic, 'model.safetensors');
    expect(manifestFile(manifest, 'model.safetensors').sha256).toBe(sha(weights));
    expect(sha(await storedBytes(store, manifest.id, 'model.safetensors'))).toBe(sha(weights));
    const last = progress.at(-1)!;
    expect(last.done).toBe(last.total);
    expect(last.etaSeconds).toBe(0);
    expect(progress.every((p, i) => i === 0 || p.done >= progress[i - 1]!.done)).toBe(true);
    expect((await store.listModels()).map((m) => m.id)).toEqual(['hub:test-org/synthetic-4m@main']);
  });

  it('resumes a connection cut at 40% without fetching the first 40% again', async () => {
    const size = (await onDisk(HUB_REPOS.synthetic, 'model.safetensors')).byteLength;
    hub.setFaults({ [weightsKey]: { cutAtFileOffset: Math.floor(size * 0.4) } });
    const store = await newStore();
    await downloadHubModel({ store, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast });
    const served = hub.stats.bytesServed[weightsKey]!;
    expect(served).toBeLessThan(1.1 * size);
    expect(hub.stats.cuts[weightsKey]).toBe(1);
    expect(sha(await storedBytes(store, 'hub:test-org/synthetic-4m@main', 'model.safetensors'))).toBe(
      sha(await onDisk(HUB_REPOS.synthetic, 'model.safetensors')),
    );
  });

  it('completes when every response is cut after 100 kB, fetching each byte once', async () => {
    const size = (await onDisk(HUB_REPOS.synthetic, 'model.safetensors')).byteLength;
    hub.setFaults({ [weightsKey]: { cutAfterBytes: 100_000, cutTimes: 'always' } });
    const store = await newStore();
    const { bytesFetched } = await downloadHubModel({ store, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast, retries: 1 });
    expect(bytesFetched).toBe(size + (await onDisk(HUB_REPOS.synthetic, 'config.json')).byteLength);
    expect(hub.stats.cuts[weightsKey]).toBeGreaterThanOrEqual(Math.floor(size / 256 / 1024)); // every range of 256 KiB was cut at least once
  });

  it('a new session resumes from the chunks an aborted one stored', async () => {
    const weights = await onDisk(HUB_REPOS.synthetic, 'model.safetensors');
    const name = `fetch-test-${++dbCount}`;
    const first = await newStore(name);
    const ac = new AbortController();
    hub.setFaults({ [weightsKey]: { bytesPerSecond: 8 * 1024 * 1024 } }); // slow enough to abort mid-way
    const aborted = downloadHubModel({
      store: first,
      repo: HUB_REPOS.synthetic,
      baseUrl: hub.url,
      signal: ac.signal,
      ...fast,
      onProgress: (p) => {
        if (p.file === 'model.safetensors' && p.done > weights.byteLength / 2) ac.abort();
      },
    });
    await expect(aborted).rejects.toMatchObject({ code: 'aborted' });
    expect(await first.listModels()).toEqual([]); // nothing visible
    const stored = (await first.listStaged()).find((s) => s.name === 'model.safetensors')!.storedBytes;
    expect(stored).toBeGreaterThan(0);
    first.close();
    hub.setFaults({});

    const second = await newStore(name); // a "reload": a new connection to the same database
    const { bytesFetched } = await downloadHubModel({ store: second, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast });
    // Only what the first session had not stored; config.json was finished before the
    // abort and is not fetched again.
    expect(bytesFetched).toBe(weights.byteLength - stored);
    expect(hub.stats.bytesServed[weightsKey]!).toBeLessThan(1.1 * weights.byteLength);
    expect(sha(await storedBytes(second, 'hub:test-org/synthetic-4m@main', 'model.safetensors'))).toBe(sha(weights));
  });

  it('downloading a stored model again fetches only the small files whose hash it cannot know', async () => {
    const store = await newStore();
    const first = await downloadHubModel({ store, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast });
    const again = await downloadHubModel({ store, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast });
    expect(again.bytesFetched).toBe(manifestFile(first.manifest, 'config.json').size);
    expect(manifestFile(again.manifest, 'model.safetensors').fileId).toBe(manifestFile(first.manifest, 'model.safetensors').fileId);
    expect(await store.db.count('files')).toBe(2); // the replaced config.json was freed
  });

  it('retries server errors with back-off', async () => {
    hub.setFaults({ [weightsKey]: { status500Times: 3 } });
    const store = await newStore();
    const { manifest } = await downloadHubModel({ store, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast });
    expect(manifest.files).toHaveLength(2);
  });

  it('gives up after the retries with a download_error naming file and URL', async () => {
    hub.setFaults({ [weightsKey]: { status500Times: 100 } });
    const store = await newStore();
    await expect(downloadHubModel({ store, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast, retries: 2 })).rejects.toMatchObject({
      code: 'download_error',
      message: expect.stringMatching(/model\.safetensors: HTTP 500 .*resolve\/main\/model\.safetensors.*after 2 retries/),
    });
    expect(await store.listModels()).toEqual([]);
  });

  it('downloads a sharded checkpoint and reads tensors lazily from the store', async () => {
    const store = await newStore();
    const { manifest, plan } = await downloadHubModel({ store, repo: HUB_REPOS.sharded, baseUrl: hub.url, ...fast });
    expect(plan.weights).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    const f = manifestFile(manifest, 'model-00002-of-00002.safetensors');
    const st = await readSafetensors(await store.openFile(f.fileId, f.path));
    const norm = await st.tensors.get('model.norm.weight')!.read();
    const disk = await readSafetensors({
      name: 'disk',
      size: f.size,
      read: async (o, l) => (await onDisk(HUB_REPOS.sharded, f.path)).subarray(o, o + l),
    });
    expect(norm).toEqual(await disk.tensors.get('model.norm.weight')!.read());
  });

  it('falls back to an ONNX export when there are no safetensors', async () => {
    const store = await newStore();
    const { plan, manifest } = await downloadHubModel({ store, repo: HUB_REPOS.onnxOnly, baseUrl: hub.url, ...fast });
    expect(plan.format).toBe('onnx');
    expect(manifest.files.map((f) => f.path)).toEqual(['config.json', 'onnx/model.onnx']);
  });
});

describe('corrupt inputs are named', () => {
  it.each([
    ['a flipped byte (sha-256 mismatch)', 'flip', /model\.safetensors: sha-256 mismatch/],
    ['a short file (size mismatch)', 'truncate', /model\.safetensors: size mismatch: the listing says \d+ bytes but .* serves/],
  ] as const)('%s', async (_, corrupt, message) => {
    hub.setFaults({ [weightsKey]: { corrupt } });
    const store = await newStore();
    await expect(downloadHubModel({ store, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast })).rejects.toMatchObject({
      code: 'bad_file',
      message: expect.stringMatching(message),
    });
    expect(await store.listModels()).toEqual([]);
    expect((await store.listStaged()).map((s) => s.name)).toEqual(['config.json']); // the bad file's bytes are gone
  });

  it('a bad safetensors header', async () => {
    const store = await newStore();
    await expect(downloadHubModel({ store, repo: HUB_REPOS.badHeader, baseUrl: hub.url, ...fast })).rejects.toMatchObject({
      code: 'bad_file',
      message: expect.stringMatching(/^model\.safetensors: not a valid safetensors file: the header is not JSON/),
    });
  });

  it('a shard named in the index but missing', async () => {
    const store = await newStore();
    await expect(downloadHubModel({ store, repo: HUB_REPOS.missingShard, baseUrl: hub.url, ...fast })).rejects.toMatchObject({
      code: 'missing_file',
      message: expect.stringMatching(/^model-00002-of-00002\.safetensors: named in model\.safetensors\.index\.json but not found/),
    });
  });

  it('a repo that does not exist', async () => {
    const store = await newStore();
    await expect(downloadHubModel({ store, repo: 'test-org/nope', baseUrl: hub.url, ...fast })).rejects.toMatchObject({
      code: 'missing_file',
      message: expect.stringMatching(/the repo does not exist/),
    });
  });
});

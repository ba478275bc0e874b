import * as Comlink from 'comlink';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { downloadHubModel } from '../../src/worker/hub-download.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { openModelStore, type IdbModelStore } from '../../src/store/idb-store.ts';
import { manifestFile } from '../../src/store/manifest.ts';
import type { StoreReloadApi } from './store-reload.worker.ts';

/**
 * Downloads in real Chromium from the loopback hub (started by test/hub/hub-global-setup.ts)
 * into real IndexedDB: a connection cut at 40% resumes within 110% of the file's bytes, a
 * fresh context finds the stored model with the network disabled, abort leaves no model,
 * corrupt inputs are named, and a quota failure mid-write loses nothing earlier.
 */

const hubUrl = inject('hubUrl');
if (!hubUrl) throw new Error("no 'hubUrl' provided: the browser project's globalSetup must include test/hub/hub-global-setup.ts");
const SYNTHETIC = 'test-org/synthetic-4m';
const WEIGHTS = `${SYNTHETIC}/model.safetensors`;
const fast = { backoffMs: 10, maxBackoffMs: 50 };
let dbCount = 0;
const stores: IdbModelStore[] = [];

interface HubStats {
  bytesServed: Record<string, number>;
  requests: Record<string, number>;
  cuts: Record<string, number>;
}

async function control(what: 'reset' | 'faults', body: unknown = {}): Promise<void> {
  const res = await fetch(`${hubUrl}/__hub/${what}`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.ok).toBe(true);
}
const stats = async (): Promise<HubStats> => (await fetch(`${hubUrl}/__hub/stats`)).json();
/** The counts once no response body is being written. */
const idle = async (): Promise<HubStats> => (await fetch(`${hubUrl}/__hub/idle`)).json();

/** The listing's size and sha-256 of a file: computed by the server with Node's crypto. */
async function listed(repo: string, path: string): Promise<{ size: number; sha256: string }> {
  const info = await (await fetch(`${hubUrl}/api/models/${repo}?blobs=true`)).json();
  const s = info.siblings.find((x: { rfilename: string }) => x.rfilename === path);
  return { size: s.size, sha256: s.lfs.sha256 };
}

async function newStore(name = `download-test-${Date.now()}-${++dbCount}`): Promise<IdbModelStore> {
  const s = await openModelStore({ name, chunkBytes: 1024 * 1024 });
  stores.push(s);
  return s;
}

beforeEach(() => control('reset'));
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

describe('resumable download into IndexedDB', () => {
  it.each([SYNTHETIC, 'test-org/synthetic-16m'])(
    'resumes a connection cut at 40 percent: bytes served stay under 110 percent of the file (%s)',
    async (repo) => {
      const key = `${repo}/model.safetensors`;
      const { size, sha256 } = await listed(repo, 'model.safetensors');
      await control('faults', { [key]: { cutAtFileOffset: Math.floor(size * 0.4) } });
      const store = await newStore();
      const { manifest } = await downloadHubModel({ store, repo, baseUrl: hubUrl, ...fast });
      const s = await stats();
      const served = s.bytesServed[key]!;
      expect(s.cuts[key]).toBe(1);
      expect(served).toBeLessThan(1.1 * size);
      expect(manifestFile(manifest, 'model.safetensors').sha256).toBe(sha256);
    },
  );

  it('a fresh context finds the stored model without any network', async () => {
    const name = `download-test-reload-${Date.now()}`;
    const store = await newStore(name);
    const { manifest } = await downloadHubModel({ store, repo: SYNTHETIC, baseUrl: hubUrl, ...fast });
    store.close();
    const requestsBefore = (await stats()).requests;

    // A module worker is a new realm with its own IndexedDB connection, standing in for a reload.
    const worker = new Worker(new URL('./store-reload.worker.ts', import.meta.url), { type: 'module' });
    try {
      const api = Comlink.wrap<StoreReloadApi>(worker);
      const back = await api.readBack(name, manifest.id);
      expect(back.models).toEqual([manifest.id]);
      expect(back.fetches).toBe(0);
      const weights = await listed(SYNTHETIC, 'model.safetensors');
      expect(back.files['model.safetensors']).toEqual(weights);
      expect(back.files['config.json']!.sha256).toBe(manifestFile(manifest, 'config.json').sha256);
    } finally {
      worker.terminate();
    }
    expect((await stats()).requests).toEqual(requestsBefore);
  });

  it('abort leaves nothing visible, and the next attempt fetches only the rest', async () => {
    const { size, sha256 } = await listed(SYNTHETIC, 'model.safetensors');
    await control('faults', { [WEIGHTS]: { bytesPerSecond: 4 * 1024 * 1024 } });
    const store = await newStore();
    const ac = new AbortController();
    await expect(
      downloadHubModel({
        store,
        repo: SYNTHETIC,
        baseUrl: hubUrl,
        signal: ac.signal,
        ...fast,
        onProgress: (p) => {
          if (p.file === 'model.safetensors' && p.done > size / 2) ac.abort();
        },
      }),
    ).rejects.toMatchObject({ code: 'aborted' });
    expect(await store.listModels()).toEqual([]);
    const stored = (await store.listStaged()).find((s) => s.name === 'model.safetensors')!.storedBytes;
    expect(stored).toBeGreaterThan(0);

    await control('faults', {});
    const { bytesFetched, manifest } = await downloadHubModel({ store, repo: SYNTHETIC, baseUrl: hubUrl, ...fast });
    expect(bytesFetched).toBe(size - stored);
    expect(manifestFile(manifest, 'model.safetensors').sha256).toBe(sha256);
  });

  it('a body that drips is ended by the stall rule the CLI uses, retried, then named; nothing visible is stored', async () => {
    await control('faults', { [WEIGHTS]: { bytesPerSecond: 8 } }); // 8 bytes a second: a connection that never ends on its own
    const store = await newStore();
    try {
      await expect(downloadHubModel({ store, repo: SYNTHETIC, baseUrl: hubUrl, ...fast, stallMs: 300, retries: 1 })).rejects.toMatchObject({
        code: 'download_error',
        message: expect.stringMatching(/model\.safetensors: .*only \d+ bytes in .* \(a body dripping slower than 1024 bytes per 0\.3 s\)/),
      });
    } finally {
      await control('faults', {});
    }
    expect(await store.listModels()).toEqual([]);
  });

  it('downloads the converted stories260K fixture and reads its tensors from the store', async () => {
    const store = await newStore();
    const { manifest } = await downloadHubModel({ store, repo: 'test-org/stories260K', baseUrl: hubUrl, ...fast });
    expect(manifest.files.map((f) => f.path)).toEqual(expect.arrayContaining(['config.json', 'tokenizer.json', 'model.safetensors']));
    const f = manifestFile(manifest, 'model.safetensors');
    const st = await readSafetensors(await store.openFile(f.fileId, f.path));
    const emb = st.tensors.get('model.embed_tokens.weight')!;
    expect(emb.shape).toEqual([512, 64]); // [vocab, dim]
    // The stored tensor is the served one, value for value.
    const served = new Uint8Array(await (await fetch(`${hubUrl}/test-org/stories260K/resolve/main/model.safetensors`)).arrayBuffer());
    const direct = (await readSafetensors(bytesSource(served, 'served model.safetensors'))).tensors.get('model.embed_tokens.weight')!;
    expect(await emb.read()).toEqual(await direct.read());
  });
});

describe('corrupt inputs are named', () => {
  it.each([
    ['flip', 'bad_file', /^model\.safetensors: sha-256 mismatch/],
    ['truncate', 'bad_file', /^model\.safetensors: size mismatch/],
  ] as const)('a served file with corruption %s', async (corrupt, code, message) => {
    await control('faults', { [WEIGHTS]: { corrupt } });
    const store = await newStore();
    await expect(downloadHubModel({ store, repo: SYNTHETIC, baseUrl: hubUrl, ...fast })).rejects.toMatchObject({
      code,
      message: expect.stringMatching(message),
    });
    expect(await store.listModels()).toEqual([]);
  });

  it.each([
    ['test-org/bad-header', 'bad_file', /^model\.safetensors: not a valid safetensors file/],
    [
      'test-org/missing-shard',
      'missing_file',
      /^model-00002-of-00002\.safetensors: named in model\.safetensors\.index\.json but not found/,
    ],
  ] as const)('%s', async (repo, code, message) => {
    const store = await newStore();
    await expect(downloadHubModel({ store, repo, baseUrl: hubUrl, ...fast })).rejects.toMatchObject({
      code,
      message: expect.stringMatching(message),
    });
    expect(await store.listModels()).toEqual([]);
  });
});

describe('quota', () => {
  it('QuotaExceededError mid-write: a clear error, earlier models intact, the verified chunks kept to resume', async () => {
    const store = await newStore();
    const earlier = await downloadHubModel({ store, repo: 'test-org/sharded', baseUrl: hubUrl, ...fast });

    // The one hand-injected fault: filling a real ~10 GB quota is not feasible in a test,
    // so IndexedDB's own put() throws the DOMException a full disk gives, after 2 chunks.
    const proto = IDBObjectStore.prototype;
    const realPut = proto.put;
    let puts = 0;
    proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (this.name === 'chunks' && ++puts > 2) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return realPut.apply(this, args);
    };
    try {
      await expect(downloadHubModel({ store, repo: SYNTHETIC, baseUrl: hubUrl, ...fast })).rejects.toMatchObject({
        code: 'quota_exceeded',
        message: expect.stringMatching(
          /storage is full while writing 'model\.safetensors' after .* MB \(.* MB used of a .* MB quota\); the .* MB stored and checked so far are kept/,
        ),
      });
    } finally {
      proto.put = realPut;
    }
    expect((await store.listModels()).map((m) => m.id)).toEqual([earlier.manifest.id]);
    const kept = (await store.listStaged()).find((s) => s.name === 'model.safetensors');
    expect(kept?.storedBytes).toBe(1024 * 1024); // config.json's chunk, then one of the weights', then the quota
    const f = manifestFile(earlier.manifest, 'model-00001-of-00002.safetensors');
    const st = await readSafetensors(await store.openFile(f.fileId, f.path));
    expect(st.tensors.get('model.embed_tokens.weight')!.shape).toEqual([512, 256]);

    // With room again, the download resumes: the kept megabyte is not fetched twice.
    // The failed download's last response may still be draining into the server's count: read
    // the count once the server has written its last body.
    const before = (await idle()).bytesServed[WEIGHTS] ?? 0;
    const { manifest } = await downloadHubModel({ store, repo: SYNTHETIC, baseUrl: hubUrl, ...fast });
    const { size, sha256 } = await listed(SYNTHETIC, 'model.safetensors');
    expect(manifestFile(manifest, 'model.safetensors').sha256).toBe(sha256);
    const again = (await stats()).bytesServed[WEIGHTS]! - before;
    expect(again).toBeLessThan(size - kept!.storedBytes + 64 * 1024); // the rest, plus the header read to check it
  });

  it('refuses early, with the figures, a download larger than the quota', async () => {
    const { quota, usage } = await navigator.storage.estimate();
    expect(quota).toBeGreaterThan(0);
    const { checkQuota } = await import('../../src/store/quota.ts');
    await expect(checkQuota(quota! * 2, 'a huge model')).rejects.toMatchObject({
      code: 'quota_exceeded',
      message: expect.stringMatching(
        /not enough storage for a huge model: it needs .* MB but only .* MB is free \(.* MB used of a .* MB quota\)/,
      ),
    });
    await expect(checkQuota(1024, 'a tiny file')).resolves.toBeUndefined();
    expect(usage).toBeGreaterThanOrEqual(0);
  });
});

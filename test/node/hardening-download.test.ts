import 'fake-indexeddb/auto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { openModelStore, type IdbModelStore } from '../../src/store/idb-store.ts';
import { defaultRangeBytes } from '../../src/fetch/ranged-download.ts';
import { downloadHubModel } from '../../src/worker/hub-download.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { HUB_REPOS } from '../hub/hub-fixtures.ts';
import { useLoopbackHub } from './loopback-hub.ts';

/**
 * Downloads check before they commit (issue 10, item 10): config.json and the shard index
 * are fetched and checked, and every safetensors header is matched against the config,
 * before a single byte of tensor data moves; chat_template.jinja comes along (item 9); a
 * quota failure mid-download keeps the verified chunks, so the next attempt resumes (item 11).
 */
const CHUNK = 256 * 1024;
const fast = { backoffMs: 5, maxBackoffMs: 20 };
const hub = useLoopbackHub();
let dbCount = 0;
const stores: IdbModelStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

async function newStore(): Promise<IdbModelStore> {
  const s = await openModelStore({ name: `hardening-download-${++dbCount}`, chunkBytes: CHUNK });
  stores.push(s);
  return s;
}

/** Bytes of `file` the hub served, and the size of its safetensors header (length field + JSON). */
async function served(repo: string, file: string): Promise<{ served: number; header: number }> {
  const bytes = new Uint8Array(await readFile(join(hub.root, repo, file)));
  const header = (await readSafetensors(bytesSource(bytes, file))).dataStart;
  return { served: hub.stats.bytesServed[`${repo}/${file}`] ?? 0, header };
}

describe('a download is refused before any tensor byte moves', () => {
  it('an unsupported architecture: not even the header is read', async () => {
    const store = await newStore();
    await expectShrinkrayError(
      downloadHubModel({ store, repo: HUB_REPOS.unsupportedArch, baseUrl: hub.url, ...fast }),
      'unsupported_architecture',
      "config.json: architecture 'GPT2LMHeadModel' is not supported; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM, SmolLM3ForCausalLM, Gemma3ForCausalLM",
    );
    expect((await served(HUB_REPOS.unsupportedArch, 'model.safetensors')).served).toBe(0);
    expect(await store.listStaged()).toEqual([]);
    expect(await store.listModels()).toEqual([]);
  });

  it('weights that do not fit config.json: the header only', async () => {
    const store = await newStore();
    await expectShrinkrayError(
      downloadHubModel({ store, repo: HUB_REPOS.wrongShapes, baseUrl: hub.url, ...fast }),
      'bad_file',
      "model.safetensors: missing tensor 'model.layers.1.input_layernorm.weight' [256] that config.json requires",
    );
    const s = await served(HUB_REPOS.wrongShapes, 'model.safetensors');
    expect(s.served).toBeGreaterThan(0);
    expect(s.served).toBeLessThanOrEqual(s.header);
    expect(await store.listStaged()).toEqual([]);
  });

  it('config.json sizes out of bounds and a shard index pointing outside the repo', async () => {
    const store = await newStore();
    const huge = 'test-org/huge-config';
    await mkdir(join(hub.root, huge), { recursive: true });
    await writeFile(
      join(hub.root, huge, 'config.json'),
      JSON.stringify({
        architectures: ['LlamaForCausalLM'],
        hidden_size: 64,
        intermediate_size: 128,
        num_hidden_layers: 1e9,
        num_attention_heads: 4,
        vocab_size: 512,
      }),
    );
    await writeFile(join(hub.root, huge, 'model.safetensors'), await readFile(join(hub.root, HUB_REPOS.synthetic, 'model.safetensors')));
    await expectShrinkrayError(
      downloadHubModel({ store, repo: huge, baseUrl: hub.url, ...fast }),
      'bad_config',
      /field 'num_hidden_layers' is 1000000000, above the supported 1024/,
    );
    expect(hub.stats.bytesServed[`${huge}/model.safetensors`] ?? 0).toBe(0);

    const escape = 'test-org/escaping-index';
    await mkdir(join(hub.root, escape), { recursive: true });
    await writeFile(join(hub.root, escape, 'config.json'), await readFile(join(hub.root, HUB_REPOS.sharded, 'config.json')));
    await writeFile(
      join(hub.root, escape, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { 'model.norm.weight': '../sharded/model-00002-of-00002.safetensors' } }),
    );
    await expectShrinkrayError(
      downloadHubModel({ store, repo: escape, baseUrl: hub.url, ...fast }),
      'bad_file',
      /model\.safetensors\.index\.json: weight_map names "\.\.\/sharded\/model-00002-of-00002\.safetensors", not a plain \.safetensors file name/,
    );
    expect(await store.listModels()).toEqual([]);
  });
});

describe('chat_template.jinja comes with a download', () => {
  it('is listed, fetched and stored with the model', async () => {
    const store = await newStore();
    const { manifest } = await downloadHubModel({ store, repo: HUB_REPOS.storiesJinja, baseUrl: hub.url, ...fast });
    const file = manifest.files.find((f) => f.path === 'chat_template.jinja');
    expect(file).toBeDefined();
    const src = await store.openFile(file!.fileId, file!.path);
    expect(new TextDecoder().decode(await src.read(0, src.size))).toBe(
      await readFile(join(hub.root, HUB_REPOS.storiesJinja, 'chat_template.jinja'), 'utf8'),
    );
  });
});

describe('a quota failure mid-download', () => {
  it('keeps the chunks stored and checked so far; the next attempt fetches only the rest', async () => {
    const store = await newStore();
    const size = (await readFile(join(hub.root, HUB_REPOS.synthetic, 'model.safetensors'))).byteLength;
    // The one hand-injected fault: filling a real quota is not feasible in a test, so the
    // real put() throws the DOMException a full disk gives, after 6 chunks of the weights.
    const proto = IDBObjectStore.prototype;
    const realPut = proto.put;
    let puts = 0;
    proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (this.name === 'chunks' && ++puts > 6) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return realPut.apply(this, args);
    };
    let error;
    try {
      error = await expectShrinkrayError(
        downloadHubModel({ store, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast }),
        'quota_exceeded',
      );
    } finally {
      proto.put = realPut;
    }
    const staged = (await store.listStaged()).find((s) => s.name === 'model.safetensors')!;
    expect(staged.storedBytes).toBe(5 * CHUNK); // config.json took the first put (its only chunk); 5 weight chunks stored
    const mb = `${(staged.storedBytes / 2 ** 20).toFixed(1)} MB`;
    expect(error.message).toBe(
      `storage is full while writing 'model.safetensors' after ${mb}; the ${mb} stored and checked so far are kept: ` +
        'free some space and start it again to resume; stored models are intact',
    );
    const before = hub.stats.bytesServed[`${HUB_REPOS.synthetic}/model.safetensors`]!;
    const { manifest, bytesFetched } = await downloadHubModel({ store, repo: HUB_REPOS.synthetic, baseUrl: hub.url, ...fast });
    const weights = manifest.files.find((f) => f.path === 'model.safetensors')!;
    expect(weights.size).toBe(size);
    // The rest of the weights (plus the small config.json again): the kept chunks are not fetched twice.
    expect(bytesFetched).toBeGreaterThanOrEqual(size - staged.storedBytes);
    expect(bytesFetched).toBeLessThan(size - staged.storedBytes + 4096);
    // The server's count adds the header read to check it, and what it had already sent of the response the quota cut.
    const again = hub.stats.bytesServed[`${HUB_REPOS.synthetic}/model.safetensors`]! - before;
    const header = (await served(HUB_REPOS.synthetic, 'model.safetensors')).header;
    expect(again).toBeGreaterThanOrEqual(size - staged.storedBytes + header);
    expect(again).toBeLessThan(size - staged.storedBytes + header + defaultRangeBytes(size));
  });
});

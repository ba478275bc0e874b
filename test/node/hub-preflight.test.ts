import 'fake-indexeddb/auto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hubRef } from '../../src/fetch/hub-url.ts';
import { openModelStore, type IdbModelStore } from '../../src/store/idb-store.ts';
import { hubStageKey } from '../../src/worker/hub-download.ts';
import { hubPreflight } from '../../src/worker/hub-preflight.ts';
import { HUB_REPOS } from '../hub/hub-fixtures.ts';
import { useLoopbackHub } from './loopback-hub.ts';

/**
 * The preflight the page shows before a download: files and sizes from the loopback hub's
 * listing, bytes an earlier attempt staged, whether it fits the quota, and the architecture
 * checked from config.json, all without fetching a weight byte.
 */
const hub = useLoopbackHub();
const ODD = 'test-org/odd-architecture';
const stores: IdbModelStore[] = [];
let n = 0;

async function store(): Promise<IdbModelStore> {
  const s = await openModelStore({ name: `preflight-${Date.now()}-${++n}`, chunkBytes: 1024 * 1024 });
  stores.push(s);
  return s;
}

beforeAll(async () => {
  await mkdir(join(hub.root, ODD), { recursive: true });
  await writeFile(join(hub.root, ODD, 'config.json'), JSON.stringify({ architectures: ['GPT2LMHeadModel'], hidden_size: 64 }));
  await copyFile(join(hub.root, HUB_REPOS.synthetic, 'model.safetensors'), join(hub.root, ODD, 'model.safetensors'));
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

describe('hubPreflight', () => {
  it('lists files and sizes and says whether they fit, fetching no weight byte', async () => {
    const s = await store();
    const roomy = await hubPreflight(s, { kind: 'hub', repo: HUB_REPOS.synthetic, hubUrl: hub.url }, { figures: { usage: 0, quota: 1e9 } });
    const weights = roomy.files.find((f) => f.path === 'model.safetensors')!;
    expect(roomy.files.map((f) => f.path)).toEqual(['config.json', 'model.safetensors']);
    expect(roomy.totalBytes).toBe(roomy.files.reduce((t, f) => t + f.size!, 0));
    expect(roomy).toMatchObject({
      stagedBytes: 0,
      needBytes: roomy.totalBytes,
      fits: true,
      architecture: 'LlamaForCausalLM',
      format: 'safetensors',
    });
    expect(roomy.freeBytes).toBe(1e9 - 0.02 * 1e9); // the margin: 2% of the quota, at most 64 MiB
    expect(roomy.problem).toBeUndefined();

    const tight = await hubPreflight(
      s,
      { kind: 'hub', repo: HUB_REPOS.synthetic, hubUrl: hub.url },
      { figures: { usage: 0, quota: weights.size! } },
    );
    expect(tight.fits).toBe(false);
    expect(tight.freeBytes).toBeLessThan(tight.needBytes);
    expect(hub.stats.bytesServed[`${HUB_REPOS.synthetic}/model.safetensors`]).toBeUndefined();
  });

  it('counts what an earlier download staged as already there', async () => {
    const s = await store();
    const ref = hubRef(HUB_REPOS.synthetic, 'main', hub.url);
    const staged = await s.stageFile(hubStageKey(ref, 'model.safetensors'), { name: 'model.safetensors', resumable: true });
    await staged.write(new Uint8Array(1024 * 1024)); // one whole chunk: stored, not buffered
    const p = await hubPreflight(s, { kind: 'hub', repo: HUB_REPOS.synthetic, hubUrl: hub.url }, { figures: { usage: 0, quota: 1e9 } });
    expect(p.stagedBytes).toBe(1024 * 1024);
    expect(p.needBytes).toBe(p.totalBytes - 1024 * 1024);
  });

  it('names an unsupported architecture and an ONNX-only repo as problems, before any weight byte', async () => {
    const s = await store();
    const odd = await hubPreflight(s, { kind: 'hub', repo: ODD, hubUrl: hub.url });
    expect(odd.architecture).toBe('GPT2LMHeadModel');
    expect(odd.problem).toMatch(/architecture 'GPT2LMHeadModel' is not supported; supported: LlamaForCausalLM/);
    expect(hub.stats.bytesServed[`${ODD}/model.safetensors`]).toBeUndefined();
    const onnx = await hubPreflight(s, { kind: 'hub', repo: HUB_REPOS.onnxOnly, hubUrl: hub.url });
    expect(onnx.format).toBe('onnx');
    expect(onnx.problem).toBe(`${HUB_REPOS.onnxOnly} has only an ONNX export (onnx/model.onnx); Shrinkray compresses safetensors weights`);
  });
});

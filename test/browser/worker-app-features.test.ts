import { describe, expect, inject, it, onTestFinished, vi } from 'vitest';
import {
  createCompressClient,
  ShrinkrayError,
  type CompressClient,
  type LocalFile,
  type ModelEvaluation,
  type Progress,
} from '../../src/worker/client.ts';
import { HUB_GATED_TOKEN, HUB_REPOS } from '../hub/hub-repos.ts';

/**
 * The compress worker's app features in real Chromium against the loopback hub: preflight,
 * a URL folder (the demo path) into the store, local imports (HF folder, llama2.c pair,
 * corrupt safetensors), zip export and import back, and the evaluation stored in the report.
 */
const hubUrl = inject('hubUrl');
const STORIES = 'test-org/stories260K';
const GATED = HUB_REPOS.gated;
const TEXT_REPO = 'test-org/fixture-text';
const storeName = `worker-app-${Date.now()}`;
const resolveUrl = (repo: string, file = '') => `${hubUrl}/${repo}/resolve/main/${file}`;

function client(): CompressClient {
  const c = createCompressClient({ storeName });
  onTestFinished(() => c.terminate());
  return c;
}

async function hubFile(repo: string, path: string, as = path): Promise<LocalFile> {
  const res = await fetch(resolveUrl(repo, path));
  if (!res.ok) throw new Error(`${repo}/${path}: HTTP ${res.status} from the hub`);
  return { path: as, file: new File([await res.arrayBuffer()], as.split('/').pop()!) };
}

const STORIES_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];

describe('compress worker app features', () => {
  it('preflight lists files and sizes, checks the architecture and the quota, and fetches no weights', async () => {
    const before = (await (await fetch(`${hubUrl}/__hub/stats`)).json()).bytesServed[`${STORIES}/model.safetensors`] ?? 0;
    const p = await client().preflight({ kind: 'hub', repo: STORIES, hubUrl });
    expect(p.files.map((f) => f.path)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']));
    expect(p.totalBytes).toBe(p.files.reduce((s, f) => s + (f.size ?? 0), 0));
    expect(p.files.find((f) => f.path === 'model.safetensors')!.size).toBe(1044984);
    expect(p.architecture).toBe('LlamaForCausalLM');
    expect(p.problem).toBeUndefined();
    expect(p.fits).toBe(true);
    expect(p.freeBytes).toBeGreaterThan(p.needBytes);
    const after = (await (await fetch(`${hubUrl}/__hub/stats`)).json()).bytesServed[`${STORIES}/model.safetensors`] ?? 0;
    expect(after).toBe(before);
  });

  it('a gated repo: refused without its token and with another, listed and downloaded with it; the token is never stored', async () => {
    const c = client();
    const gated = (token?: string) => ({ kind: 'hub' as const, repo: GATED, hubUrl, ...(token !== undefined ? { token } : {}) });
    const refusal = async (token?: string) => {
      const e = await c.preflight(gated(token)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ShrinkrayError);
      return e as ShrinkrayError;
    };
    const none = await refusal();
    expect([none.code, none.message]).toEqual([
      'download_error',
      expect.stringMatching(/^config\.json: HTTP 401 .*the repo is gated: accept its terms/),
    ]);
    const other = await refusal('hf_someoneElsesToken');
    expect(other.message).toMatch(/^config\.json: HTTP 403 .*this access token has no access to it/);
    expect((await refusal('hf_two words')).code).toBe('bad_argument');

    const p = await c.preflight(gated(HUB_GATED_TOKEN));
    expect([p.architecture, p.problem]).toEqual(['LlamaForCausalLM', undefined]);
    const info = await c.download(gated(HUB_GATED_TOKEN));
    expect(info.source).toEqual({ kind: 'hub', baseUrl: hubUrl, repo: GATED, revision: 'main' });
    expect(info.files.map((f) => f.path)).toContain('model.safetensors');
    // Every record of every store this page holds, as JSON: the token is in none of them.
    for (const db of await indexedDB.databases()) {
      const open = await new Promise<IDBDatabase>((ok, fail) => {
        const r = indexedDB.open(db.name!);
        r.onsuccess = () => ok(r.result);
        r.onerror = () => fail(r.error);
      });
      for (const name of open.objectStoreNames) {
        const all = await new Promise<unknown[]>((ok, fail) => {
          const r = open.transaction(name).objectStore(name).getAll();
          r.onsuccess = () => ok(r.result);
          r.onerror = () => fail(r.error);
        });
        expect(JSON.stringify(all), `${db.name}/${name}`).not.toContain(HUB_GATED_TOKEN);
      }
      open.close();
    }
  });

  it('imports a model folder served over HTTP (the demo path), with progress, and reads its config', async () => {
    const c = client();
    const progress: Progress[] = [];
    const info = await c.importUrlFolder(
      resolveUrl(STORIES),
      STORIES_FILES,
      { id: 'demo:stories260K', name: 'stories260K' },
      { onProgress: (p) => progress.push(p) },
    );
    expect(info.id).toBe('demo:stories260K');
    expect(info.source).toEqual({ kind: 'demo', name: 'stories260K' });
    expect(info.files.map((f) => f.path).sort()).toEqual([...STORIES_FILES].sort());
    // Progress comes through its own MessageChannel (a Comlink proxy): its last event may land after the call resolves.
    await vi.waitFor(() => expect(progress.at(-1)).toMatchObject({ stage: 'import', done: info.bytes }));
    const config = await c.modelConfig(info.id);
    expect(config).toMatchObject({ hiddenSize: 64, numLayers: 5, vocabSize: 512 });
  });

  it('imports an HF folder and a llama2.c pair from files; a corrupt safetensors is named and stores nothing', async () => {
    const c = client();
    const folder = await Promise.all(STORIES_FILES.map((f) => hubFile(STORIES, f, `stories260K/${f}`)));
    const hf = await c.importLocal(folder);
    expect(hf.importedAs).toBe('hf-folder');
    expect(hf.id).toBe('local:stories260K');
    // The same files chosen loose (no folder around them), twice: two models, neither replaces the other.
    const loose = await Promise.all(STORIES_FILES.map((f) => hubFile(STORIES, f)));
    expect((await c.importLocal(loose)).id).toBe('local:local model');
    expect((await c.importLocal(loose)).id).toBe('local:local model 2');
    expect(await c.modelConfig('local:local model')).toMatchObject({ numLayers: 5 }); // the first is still stored

    const pair = await Promise.all(['stories260K.bin', 'tok512.bin'].map((f) => hubFile(TEXT_REPO, f)));
    const l2c = await c.importLocal(pair);
    expect(l2c.importedAs).toBe('llama2c');
    expect(l2c.id).toBe('local:stories260K.bin');
    // The conversion is the CLI's: the same tensors, so the same safetensors size.
    expect(l2c.files.find((f) => f.path === 'model.safetensors')!.size).toBe(hf.files.find((f) => f.path === 'model.safetensors')!.size);

    const listed = (await c.list()).map((m) => m.id);
    const usage = await c.usage();
    const bytes = new Uint8Array(await folder[1]!.file.arrayBuffer());
    bytes.fill(0x7b, 8, 40); // the header's JSON becomes '{{{{…'
    const corrupt = folder.map((f) =>
      f.path.endsWith('model.safetensors') ? { path: f.path, file: new File([bytes], 'model.safetensors') } : f,
    );
    const err = await c.importLocal(corrupt).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShrinkrayError);
    expect((err as ShrinkrayError).message).toContain('model.safetensors');
    expect((await c.list()).map((m) => m.id)).toEqual(listed);
    expect((await c.usage()).modelBytes).toBe(usage.modelBytes);
    expect((await c.usage()).stagedBytes).toBe(0);

    const weird = folder.map((f) =>
      f.path.endsWith('config.json') && !f.path.includes('generation')
        ? { path: f.path, file: new File([JSON.stringify({ architectures: ['<img src=x onerror=window.__x=1>'] })], 'config.json') }
        : f,
    );
    const archErr = await c.importLocal(weird).catch((e: unknown) => e);
    expect(archErr).toMatchObject({ code: 'unsupported_architecture' });
    expect((archErr as Error).message).toContain('<img src=x onerror=window.__x=1>');
  });

  it('imports GGUF files (the anchor’s Q8_0 stories260K, every type incl. K-quants); an unknown tensor type is named and stores nothing', async () => {
    const c = client();
    const q8 = await c.importLocal([await hubFile(TEXT_REPO, 'stories260K-Q8_0.gguf')]);
    expect(q8.importedAs).toBe('gguf');
    expect(q8.id).toBe('local:stories260K-Q8_0.gguf');
    // Dequantized to fp32: the same tensors and shapes as the HF stories260K folder, so the same safetensors size.
    expect(q8.files.find((f) => f.path === 'model.safetensors')!.size).toBe(1044984);
    expect(await c.modelConfig(q8.id)).toMatchObject({ hiddenSize: 64, numLayers: 5, vocabSize: 512, tieWordEmbeddings: true });

    const kq = await hubFile(TEXT_REPO, 'kquant.gguf');
    const kinfo = await c.importLocal([kq]);
    expect(await c.modelConfig(kinfo.id)).toMatchObject({ hiddenSize: 256, numLayers: 2, vocabSize: 320, tieWordEmbeddings: false });

    const listed = (await c.list()).map((m) => m.id);
    const bytes = new Uint8Array(await kq.file.arrayBuffer());
    const name = new TextEncoder().encode('blk.0.attn_q.weight');
    const at = bytes.findIndex((_, i) => name.every((b, j) => bytes[i + j] === b)) + name.length;
    new DataView(bytes.buffer).setUint32(at + 4 + 16, 10, true); // after n_dims and two u64 dims: the type, Q2_K
    const err = await c.importLocal([{ path: 'q2k.gguf', file: new File([bytes], 'q2k.gguf') }]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'bad_file' });
    expect((err as Error).message).toMatch(/q2k\.gguf: tensor 'blk\.0\.attn_q\.weight' is stored as Q2_K/);
    expect((await c.list()).map((m) => m.id)).toEqual(listed);
  });

  it('exports a compressed model as a zip and imports it back with its report', async () => {
    const c = client();
    const compressed = await c.compress('demo:stories260K', 'int8');
    const progress: Progress[] = [];
    const zip = await c.exportZip(compressed.id, { onProgress: (p) => progress.push(p) });
    expect(zip.type).toBe('application/zip');
    // Progress comes through its own MessageChannel (a Comlink proxy): its last event may land after the call resolves.
    await vi.waitFor(() => expect(progress.at(-1)).toMatchObject({ stage: 'export', done: compressed.bytes, total: compressed.bytes }));
    await c.delete(compressed.id);
    const back = await c.importLocal([{ path: 'export.zip', file: new File([zip], 'export.zip') }]);
    expect(back.importedAs).toBe('exported-zip');
    expect(back.id).toBe(compressed.id);
    expect(back.recipe).toBe('int8-g32');
    expect(back.files.map((f) => [f.path, f.size]).sort()).toEqual(compressed.files.map((f) => [f.path, f.size]).sort());
    expect(back.report).toEqual(compressed.report);

    const evaluation: ModelEvaluation = {
      textName: 'test',
      textChars: 10,
      device: 'wasm',
      threads: 1,
      measuredAt: 1,
      before: null,
      after: { modelId: back.id, ppl: 3.5, nll: 1.25, tokens: 10, docs: 1, tokensPerSecond: 100, decodeTokens: 8 },
    };
    const saved = await c.saveEvaluation(back.id, evaluation);
    expect(saved.report!.evaluation).toEqual(evaluation);
    const relisted = (await c.list()).find((m) => m.id === back.id)!;
    expect(relisted.report!.evaluation).toEqual(evaluation);
    expect(relisted.files.map((f) => f.path).sort()).toEqual(compressed.files.map((f) => f.path).sort());
    expect((await c.usage()).stagedBytes).toBe(0);
  });

  it('refuses a zip that is not one', async () => {
    const err = await client()
      .importLocal([{ path: 'x.zip', file: new File(['not a zip at all'], 'x.zip') }])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'bad_file' });
    expect((err as Error).message).toContain('x.zip');
  });
});

import 'fake-indexeddb/auto';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compressModel } from '../../src/compress/pipeline.ts';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { openModelStore, type IdbModelStore } from '../../src/store/idb-store.ts';
import type { ModelManifest } from '../../src/store/manifest.ts';
import { runCompressJob } from '../../src/worker/compress-job.ts';
import { pieceCachedSource } from '../../src/worker/stored-model.ts';
import { STORIES_DIR } from './fixture-paths.ts';
import { plan } from './plan-recipe.ts';
import { runCli } from './run-cli.ts';

/**
 * The compress worker's job without a browser (fake-indexeddb): a model in the store
 * compresses to exactly the bytes the same pipeline makes from the model folder on disk,
 * tensors read through the store's chunks included; a cancel leaves nothing behind.
 */
const stores: IdbModelStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

/** The fixture folder (or `dir`) as a stored model, in 64 KiB chunks so tensors straddle chunk edges. */
async function storedStories(dir = STORIES_DIR): Promise<{ store: IdbModelStore; id: string }> {
  const store = await openModelStore({ name: `compress-job-${Date.now()}-${Math.random()}`, chunkBytes: 64 * 1024 });
  stores.push(store);
  const manifest: ModelManifest = { id: 'demo:stories260K', source: { kind: 'demo', name: 'stories260K' }, files: [] };
  for (const path of await readdir(dir)) {
    if (path.startsWith('.')) continue; // the fixture generator's stamp
    const w = await store.stageFile(`demo/${path}`, { name: path });
    await w.write(new Uint8Array(await readFile(join(dir, path))));
    const info = await w.finish();
    manifest.files.push({ path, fileId: info.fileId, size: info.size, sha256: info.sha256 });
  }
  await store.commitModel(manifest);
  return { store, id: manifest.id };
}

describe('runCompressJob', () => {
  it('stores onnx/model.onnx byte-identical to the pipeline run on the folder, with the carried files', async () => {
    const { store, id } = await storedStories();
    const quantizer = await createRtnQuantizer();
    const progress: string[] = [];
    const manifest = await runCompressJob(id, 'int4-g32', { store, quantizer, onProgress: (p) => progress.push(p.stage) });
    expect(manifest.id).toBe('compressed:demo:stories260K:int4-g32');
    expect(manifest.files.map((f) => f.path).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'onnx/model.onnx',
      'shrinkray.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(new Set(progress)).toEqual(new Set(['compress', 'write']));

    const folder = await loadModelFolder(STORIES_DIR);
    const direct = await compressModel(folder.ir, plan('int4-g32', folder.ir.config), {
      quantizer,
      externalDataThreshold: 16 * 1024 * 1024,
    });
    const stored = await store.openModelFile(manifest.id, 'onnx/model.onnx');
    expect(await stored.read(0, stored.size)).toEqual(direct.built.model);
    const tokenizer = await store.openModelFile(manifest.id, 'tokenizer.json');
    expect(new TextDecoder().decode(await tokenizer.read(0, tokenizer.size))).toBe(
      await readFile(join(STORIES_DIR, 'tokenizer.json'), 'utf8'),
    );
    const configSource = await store.openModelFile(manifest.id, 'config.json');
    const config = JSON.parse(new TextDecoder().decode(await configSource.read(0, configSource.size)));
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32' });
    expect(manifest.report).toMatchObject({ recipe: 'int4-g32', from: id, bytesOut: direct.built.model.byteLength });
  });

  it('writes the folder the CLI writes from the same model, generation_config.json included when the source has none', async () => {
    // The source without generation_config.json: both write the same fallback (its BOS and end tokens).
    const dir = await mkdtemp(join(tmpdir(), 'shrinkray-same-folder-'));
    try {
      const src = join(dir, 'src');
      await cp(STORIES_DIR, src, { recursive: true, filter: (f) => !f.endsWith('generation_config.json') });
      const { store, id } = await storedStories(src);
      const manifest = await runCompressJob(id, 'ffn25+int4-g32', { store, quantizer: await createRtnQuantizer() });
      const cli = await runCli(['compress', src, '--recipe', 'ffn25+int4-g32', '--out', join(dir, 'out')]);
      expect(cli.code, cli.stderr).toBe(0);
      const onDisk = (await readdir(join(dir, 'out'), { recursive: true, withFileTypes: true })).filter((f) => f.isFile());
      const paths = onDisk.map((f) => join(f.parentPath, f.name).slice(join(dir, 'out').length + 1)).sort();
      expect(manifest.files.map((f) => f.path).sort()).toEqual(paths);
      expect(paths).toContain('generation_config.json');
      for (const path of paths) {
        const stored = await store.openModelFile(manifest.id, path);
        const bytes = await stored.read(0, stored.size);
        const written = new Uint8Array(await readFile(join(dir, 'out', path)));
        // shrinkray.json differs only in timings and where the model came from.
        if (path === 'shrinkray.json')
          expect(JSON.parse(new TextDecoder().decode(bytes)).tensors).toEqual(JSON.parse(new TextDecoder().decode(written)).tensors);
        else expect(bytes, path).toEqual(written);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a cancel during the write stage leaves no model and nothing staged', async () => {
    const { store, id } = await storedStories();
    const ac = new AbortController();
    await expect(
      runCompressJob(id, 'int8', {
        store,
        quantizer: await createRtnQuantizer(),
        signal: ac.signal,
        onProgress: (p) => {
          if (p.stage === 'write') ac.abort();
        },
      }),
    ).rejects.toMatchObject({ code: 'aborted' });
    expect((await store.listModels()).map((m) => m.id)).toEqual([id]);
    expect(await store.listStaged()).toEqual([]);
  });
});

describe('pieceCachedSource', () => {
  it('answers any range like the source, fetching each piece once while it stays cached', async () => {
    const bytes = new Uint8Array(10_000).map((_, i) => (i * 7) & 255);
    let reads = 0;
    const inner = bytesSource(bytes, 'w.safetensors');
    const src = pieceCachedSource(
      {
        ...inner,
        read: (o, l) => {
          reads++;
          return inner.read(o, l);
        },
      },
      1024,
      2,
    );
    for (const [o, l] of [
      [0, 10],
      [10, 500],
      [1000, 100],
      [1020, 10],
      [1500, 2000],
      [9990, 10],
      [0, 0],
    ] as const) {
      expect(await src.read(o, l)).toEqual(bytes.subarray(o, o + l));
    }
    expect(reads).toBe(5); // pieces 0; 1 (0 cached); 2 and 3 (1 cached); 9
    await expect(src.read(9000, 2000)).rejects.toMatchObject({ code: 'bad_file' });
  });
});

import { afterAll, describe, expect, inject, it } from 'vitest';
import { openModelStore } from '../../src/store/idb-store.ts';
import type { ModelManifest } from '../../src/store/manifest.ts';
import { createCompressClient, type CompressClient } from '../../src/worker/client.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/**
 * Issue 21 in the compress worker, in real Chromium: calibration text is tokenized there with
 * the model's own tokenizer.json, so a regular expression that never ends makes the client
 * restart the worker and fail the compression naming tokenizer.json (items 3); a giant word is
 * tokenized in bounded pieces only up to the draw's pool (items 4, 5); integer weights are
 * refused naming the tensor (item 10: the page reads weights through the same openHfModel).
 */
const hubUrl = inject('hubUrl');
const storeName = `hardening-calibration-${Date.now()}`;
// A short budget, so the hang test waits 2 s rather than the default 10.
const TOKENIZER_MS = 2000;
const compress: CompressClient = createCompressClient({ storeName, tokenizerBudgetMs: TOKENIZER_MS });
afterAll(() => compress.terminate());

const STORIES = 'test-org/stories260K';
const fetchBytes = async (file: string) => new Uint8Array(await (await fetch(`${hubUrl}/${STORIES}/resolve/main/${file}`)).arrayBuffer());
type Files = Record<string, Uint8Array>;

/** stories260K's files as the hub serves them, `edit`ed, committed into the worker's store as model `id` without any check. */
async function storeStories(id: string, edit: (files: Files) => void = () => undefined): Promise<string> {
  const files: Files = {};
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) files[f] = await fetchBytes(f);
  edit(files);
  const store = await openModelStore({ name: storeName, collectGarbage: false });
  try {
    const manifest: ModelManifest = { id, source: { kind: 'local', name: id }, files: [] };
    for (const [path, bytes] of Object.entries(files)) {
      const w = await store.stageFile(`test:${id}/${path}`, { name: path });
      await w.write(bytes);
      const f = await w.finish();
      manifest.files.push({ path, fileId: f.fileId, size: f.size, sha256: f.sha256 });
    }
    await store.commitModel(manifest);
    return id;
  } finally {
    store.close();
  }
}

const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
const encoded = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('calibration in the compress worker', () => {
  it('a tokenizer regex that never ends: the client restarts the compress worker, names tokenizer.json, and goes on', async () => {
    const id = await storeStories('calib-regex', (files) => {
      const t = json(files['tokenizer.json']!);
      t.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a|aa)+$' }, behavior: 'Isolated', invert: false };
      files['tokenizer.json'] = encoded(t);
    });
    await expectShrinkrayError(
      compress.compress(id, 'gptq-int4-g32', { calibration: { text: `${'a'.repeat(64)}!`, name: 'aaa.txt' } }),
      'bad_file',
      `tokenizer.json: encoding a text of 65 characters did not finish within ${TOKENIZER_MS} ms (a regular expression that backtracks without end?); ` +
        'the compress worker was stopped and started afresh',
    );
    // The fresh worker answers; the failed compression left no model behind.
    expect((await compress.list()).map((m) => m.id)).not.toContain(`${id}--gptq-int4-g32`);
  });

  it('one 4 MB word is tokenized in bounded pieces, only up to the pool the draw needs', async () => {
    const id = await storeStories('calib-word');
    const info = await compress.compress(id, 'wanda50', {
      calibration: { text: 'a'.repeat(4 * 1024 * 1024), name: 'word.txt', windows: 1 },
    });
    expect(info.report!.calibration).toMatchObject({ name: 'word.txt', available: 2048, windows: 1 });
  });
});

describe('integer weights in the compress worker', () => {
  it('an I8 projection is refused naming the tensor, the dtype and what would read it', async () => {
    const id = await storeStories('bnb-int8', (files) => {
      const bytes = files['model.safetensors']!;
      const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      const header = json(bytes.subarray(8, 8 + n));
      const q = header['model.layers.0.self_attn.q_proj.weight'] as { dtype: string; shape: number[]; data_offsets: number[] };
      // q_proj relabelled as I8 codes of its own shape: the first quarter of its bytes.
      Object.assign(q, { dtype: 'I8', data_offsets: [q.data_offsets[0]!, q.data_offsets[0]! + 64 * 64] });
      const text = new TextEncoder().encode(JSON.stringify(header).padEnd(n, ' '));
      if (text.byteLength !== n) throw new Error('the relabelled header must keep its length');
      const out = bytes.slice();
      out.set(text, 8);
      files['model.safetensors'] = out;
    });
    await expectShrinkrayError(
      compress.compress(id, 'int8'),
      'bad_file',
      /tensor 'model\.layers\.0\.self_attn\.q_proj\.weight' is stored as I8, integer codes that only the quantizer that wrote them can read; .*use the original fp16\/bf16 weights/,
    );
  });
});

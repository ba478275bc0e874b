import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { openModelStore } from '../../src/store/idb-store.ts';
import type { ModelManifest } from '../../src/store/manifest.ts';
import { createChatClient, createCompressClient, type ChatClient, type CompressClient } from '../../src/worker/client.ts';
import { craftDecoderGraph } from '../crafted-onnx.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/**
 * The defects of issue 10 through the workers, in real Chromium, where the code path exists
 * there: hostile models put straight into the store (as a local import would) or served by
 * the loopback hub, then loaded, compressed or run. What reaches the page is a ShrinkrayError
 * naming the file; a tokenizer that hangs makes the client restart the chat worker.
 */
const hubUrl = inject('hubUrl');
const storeName = `hardening-workers-${Date.now()}`;
const compress: CompressClient = createCompressClient({ storeName });
// A short budget, so the hang test waits 2 s rather than the default 10.
const TOKENIZER_MS = 2000;
const chat: ChatClient = createChatClient({ storeName, tokenizerBudgetMs: TOKENIZER_MS });
afterAll(() => {
  compress.terminate();
  chat.terminate();
});

const STORIES = 'test-org/stories260K';
const fetchBytes = async (repo: string, file: string) =>
  new Uint8Array(await (await fetch(`${hubUrl}/${repo}/resolve/main/${file}`)).arrayBuffer());
const fetchJson = async (repo: string, file: string) =>
  JSON.parse(new TextDecoder().decode(await fetchBytes(repo, file))) as Record<string, unknown>;
type Files = Record<string, Uint8Array | string | Record<string, unknown>>;

/** Commits `files` into the workers' store as model `id`, as a local import would, without any check. */
async function storeModel(id: string, files: Files): Promise<string> {
  const store = await openModelStore({ name: storeName, collectGarbage: false });
  try {
    const manifest: ModelManifest = { id, source: { kind: 'local', name: id }, files: [] };
    for (const [path, content] of Object.entries(files)) {
      const bytes =
        content instanceof Uint8Array ? content : new TextEncoder().encode(typeof content === 'string' ? content : JSON.stringify(content));
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

/** The stories260K model as the hub serves it, with edits. */
async function stories(edit: Partial<Record<string, (x: Record<string, unknown>) => void>> = {}, extra: Files = {}): Promise<Files> {
  const files: Files = {};
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    const json = await fetchJson(STORIES, f);
    edit[f]?.(json);
    files[f] = json;
  }
  files['model.safetensors'] = await fetchBytes(STORIES, 'model.safetensors');
  return { ...files, ...extra };
}

async function hubStats(): Promise<{ bytesServed: Record<string, number> }> {
  return (await fetch(`${hubUrl}/__hub/stats`)).json();
}
beforeEach(async () => {
  await fetch(`${hubUrl}/__hub/reset`, { method: 'POST', body: '{}' });
});

describe('stored models that lie, through the chat and compress workers', () => {
  it('external data outside the folder, or past the end of its file (item 1)', async () => {
    const config = parseHfConfig(await fetchJson(STORIES, 'config.json'), 'config.json');
    const base = await stories();
    delete base['model.safetensors'];
    const outside = await storeModel('crafted-outside', {
      ...base,
      'onnx/model.onnx': craftDecoderGraph(config, {
        initializers: [{ name: 'w', dims: [16], external: { location: '../../config.json', offset: '0', length: '64' } }],
      }),
    });
    await expectShrinkrayError(
      chat.load(outside),
      'bad_file',
      /onnx\/model\.onnx is not a valid ONNX model: external initializer 'w' has location '\.\.\/\.\.\/config\.json'; it must be a plain file name beside the graph/,
    );
    const past = await storeModel('crafted-past', {
      ...base,
      'onnx/model.onnx': craftDecoderGraph(config, {
        initializers: [{ name: 'w', dims: [16], external: { location: 'w.bin', offset: '4096', length: '64' } }],
      }),
      'onnx/w.bin': new Uint8Array(256),
    });
    await expectShrinkrayError(chat.load(past), 'bad_file', 'onnx/w.bin holds 256 bytes; onnx/model.onnx needs at least 4160 (truncated?)');
  });

  it('num_hidden_layers: 1e9 fails at once in the compress worker and the chat worker (item 3)', async () => {
    const id = await storeModel(
      'huge-layers',
      await stories({
        'config.json': (c) => {
          c.num_hidden_layers = 1e9;
        },
      }),
    );
    await expectShrinkrayError(
      compress.compress(id, 'int8'),
      'bad_config',
      "config.json: field 'num_hidden_layers' is 1000000000, above the supported 1024",
    );
    await expectShrinkrayError(chat.load(id), 'bad_config', /field 'num_hidden_layers' is 1000000000/);
    expect((await compress.usage()).stagedBytes).toBe(0);
  });

  it('weights that do not fit config.json name the file and the tensor in the compress worker', async () => {
    const id = await storeModel(
      'mismatched-ffn',
      await stories({
        'config.json': (c) => {
          c.intermediate_size = 64;
        },
      }),
    );
    await expectShrinkrayError(
      compress.compress(id, 'int4-g32'),
      'bad_file',
      "model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [172, 64], expected [64, 64] (intermediate_size, hidden_size) from config.json",
    );
  });

  it('a graph with fewer layers than its config.json (item 5)', async () => {
    const json = await fetchJson(STORIES, 'config.json');
    const base = await stories();
    delete base['model.safetensors'];
    const id = await storeModel('crafted-layers', {
      ...base,
      'onnx/model.onnx': craftDecoderGraph(parseHfConfig(json, 'config.json'), { layers: 3 }),
    });
    await expectShrinkrayError(
      chat.load(id),
      'bad_file',
      /^onnx\/model\.onnx does not match config\.json: the graph has 3 layers of KV cache inputs .* but num_hidden_layers is 5/,
    );
  });

  it('weights that hold NaN: generate fails saying so, instead of an empty text (item 6)', async () => {
    const files = await stories();
    const bytes = (files['model.safetensors'] as Uint8Array).slice();
    const norm = (await readSafetensors(bytesSource(bytes, 'model.safetensors'))).tensors.get('model.norm.weight')!;
    new Float32Array(bytes.buffer, norm.fileOffset, norm.byteLength / 4).fill(NaN);
    const id = await storeModel('nan-weights', { ...files, 'model.safetensors': bytes });
    await chat.load(id, { device: 'wasm' });
    await expectShrinkrayError(
      chat.generate({ prompt: { text: 'Once' }, maxNewTokens: 4 }),
      'bad_file',
      /model 'nan-weights': the model's logits hold NaN/,
    );
    await expectShrinkrayError(chat.evaluate('Once upon a time there was a cat.'), 'bad_file', /logits hold NaN/);
  });
});

describe("the model's own code in the chat worker (item 4)", () => {
  it('a tokenizer regex that never ends: the client restarts the worker and names tokenizer.json; the next load works', async () => {
    const id = await storeModel(
      'regex-hang',
      await stories({
        'tokenizer.json': (t) => {
          t.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a|aa)+$' }, behavior: 'Isolated', invert: false };
        },
      }),
    );
    await chat.load(id, { device: 'wasm' });
    await expectShrinkrayError(
      chat.generate({ prompt: { text: `${'a'.repeat(64)}!` }, maxNewTokens: 2 }),
      'bad_file',
      `tokenizer.json: encoding a text of 65 characters did not finish within ${TOKENIZER_MS} ms (a regular expression that backtracks without end?); ` +
        'the chat worker was stopped and started afresh: load a model again',
    );
    // The fresh worker has no model; loading one works as before.
    await expectShrinkrayError(chat.generate({ prompt: { text: 'Once' }, maxNewTokens: 2 }), 'bad_argument', /no model is loaded/);
    const good = await storeModel('good-after-hang', await stories());
    await chat.load(good, { device: 'wasm' });
    expect((await chat.generate({ prompt: { text: 'Once' }, maxNewTokens: 3 })).ids).toHaveLength(3);
  });

  it('a chat template that loops 1e8 times fails in the worker, naming tokenizer_config.json', async () => {
    const id = await storeModel(
      'template-loop',
      await stories({
        'tokenizer_config.json': (t) => {
          t.chat_template = '{% for i in range(100000000) %}x{% endfor %}';
        },
      }),
    );
    await chat.load(id, { device: 'wasm' });
    await expectShrinkrayError(
      chat.generate({ prompt: { messages: [{ role: 'user', content: 'Hi' }] }, maxNewTokens: 2 }),
      'bad_file',
      'tokenizer_config.json: the chat template asked range() for 100000000 items, above the 100000 allowed',
    );
    // No restart was needed: the same worker still runs plain prompts.
    expect((await chat.generate({ prompt: { text: 'Once' }, maxNewTokens: 2 })).ids).toHaveLength(2);
  });
});

describe('downloads through the compress worker', () => {
  it('refuse an unsupported architecture and weights that do not fit, before any tensor byte (item 10)', async () => {
    await expectShrinkrayError(
      compress.download({ kind: 'hub', repo: 'test-org/unsupported-arch', hubUrl }),
      'unsupported_architecture',
      /^config\.json: architecture 'GPT2LMHeadModel' is not supported/,
    );
    await expectShrinkrayError(
      compress.download({ kind: 'hub', repo: 'test-org/wrong-shapes', hubUrl }),
      'bad_file',
      "model.safetensors: missing tensor 'model.layers.1.input_layernorm.weight' [256] that config.json requires",
    );
    const served = (await hubStats()).bytesServed;
    expect(served['test-org/unsupported-arch/model.safetensors'] ?? 0).toBe(0);
    const header = (await readSafetensors(bytesSource(await fetchBytes('test-org/wrong-shapes', 'model.safetensors'), 'w'))).dataStart;
    expect(served['test-org/wrong-shapes/model.safetensors']).toBeLessThanOrEqual(header);
    expect((await compress.list()).some((m) => m.id.includes('unsupported') || m.id.includes('wrong-shapes'))).toBe(false);
  });

  it('bring chat_template.jinja, which the chat worker reads (item 9)', async () => {
    const info = await compress.download({ kind: 'hub', repo: 'test-org/stories260K-jinja', hubUrl });
    expect(info.files.map((f) => f.path)).toContain('chat_template.jinja');
    const loaded = await chat.load(info.id, { device: 'wasm' });
    expect(loaded.hasChatTemplate).toBe(true);
    const r = await chat.generate({ prompt: { messages: [{ role: 'user', content: 'Once upon a time' }] }, maxNewTokens: 2 });
    expect(r.promptTokens).toBeGreaterThan(1);
  });
});

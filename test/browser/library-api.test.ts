import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { createEngine, type ChatCompletionChunk, type Engine } from '../../src/lib/index.ts';
import { createCompressClient } from '../../src/worker/client.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import {
  LIBRARY_EXPECTED_FILE,
  LIBRARY_EXPECTED_REPO,
  LIBRARY_MAX_TOKENS,
  LIBRARY_PROMPT,
  LIBRARY_REPO,
  type LibraryExpected,
} from '../library-model.ts';

/**
 * createEngine from 'shrinkray' in a page: the CLI's int4-g32 stories model served by the loopback
 * hub, in the library's worker and on the page's own thread, gives the greedy ids and text the CLI
 * gives in Node (test/library-model-node.ts records them); a stored model opens by its id.
 */
const hubUrl = inject('hubUrl');
const folder = `${hubUrl}/${LIBRARY_REPO}/resolve/main/`;
const expected = async () =>
  (await (await fetch(`${hubUrl}/${LIBRARY_EXPECTED_REPO}/resolve/main/${LIBRARY_EXPECTED_FILE}`)).json()) as LibraryExpected;
const messages = [{ role: 'user' as const, content: LIBRARY_PROMPT }];

async function open(...args: Parameters<typeof createEngine>): Promise<Engine> {
  const engine = await createEngine(...args);
  onTestFinished(() => engine.unload());
  return engine;
}

describe('createEngine in the browser', () => {
  it.each([true, false])('worker: %s: the CLI greedy text and ids from a URL; stream chunks add up to it', async (worker) => {
    const want = await expected();
    const stages = new Set<string>();
    const engine = await open(folder, { worker, onProgress: (p) => stages.add(p.stage) });
    expect(engine.info).toMatchObject({ model: folder, engine: 'cpu', device: 'wasm', hasChatTemplate: true, vocabSize: 512 });
    expect(stages).toContain('download');
    const r = await engine.chat.completions.create({ messages, max_tokens: LIBRARY_MAX_TOKENS });
    expect(r.choices[0].message.content).toBe(want.chat.text);
    expect(r.usage.completion_tokens).toBe(want.chat.ids.length);
    const g = await engine.generate(LIBRARY_PROMPT, { maxTokens: LIBRARY_MAX_TOKENS });
    expect(g.ids).toEqual(want.completion.ids);
    expect(g.text).toBe(want.completion.text);
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: LIBRARY_MAX_TOKENS, stream: true })) chunks.push(c);
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(want.chat.text);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe(r.choices[0].finish_reason);
  });

  it.each([false, true])('worker: %s: an abort stops generation: the text so far, finish_reason abort', async (worker) => {
    const want = (await expected()).completion.ids;
    expect(want).toHaveLength(LIBRARY_MAX_TOKENS); // no end token in the first 40: only the abort can stop it early
    const engine = await open(folder, { worker });
    const controller = new AbortController();
    let seen = 0;
    const g = await engine.generate(LIBRARY_PROMPT, {
      maxTokens: 200,
      signal: controller.signal,
      onToken: (p) => {
        if (p.id !== null && ++seen === 5) controller.abort();
      },
    });
    expect(g.finish_reason).toBe('abort');
    // On this thread the abort is seen before the next token; in the worker, the first token after the cancel message arrives.
    if (!worker) expect(g.ids).toHaveLength(5);
    expect(g.ids.length).toBeLessThan(LIBRARY_MAX_TOKENS);
    expect(g.ids).toEqual(want.slice(0, g.ids.length));
  });

  it("runs engine 'onnx' (onnxruntime-web, loaded only then) with the greedy ids of shrinkray generate --engine onnx", async () => {
    const engine = await open(folder, { engine: 'onnx', device: 'wasm' });
    expect(engine.info).toMatchObject({ engine: 'onnx', device: 'wasm' });
    const g = await engine.generate(LIBRARY_PROMPT, { maxTokens: LIBRARY_MAX_TOKENS });
    expect(g.ids).toEqual((await expected()).onnxCompletion.ids);
  });

  it('opens picked files (File[], paths from their names) on this thread', async () => {
    const paths = [
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'chat_template.jinja',
      'onnx/model.onnx',
    ];
    const files = await Promise.all(paths.map(async (p) => new File([await (await fetch(folder + p)).blob()], p)));
    expect(files.map((f) => f.name)).toEqual(paths); // the browser keeps the folder in the name
    const engine = await open(files, { worker: false });
    expect(engine.info.model).toBe(`the picked files (${paths.join(', ')})`);
    expect((await engine.generate(LIBRARY_PROMPT, { maxTokens: LIBRARY_MAX_TOKENS })).ids).toEqual((await expected()).completion.ids);
  });

  it('opens a stored model by its id, and names a folder that is not a model', async () => {
    const storeName = `library-api-${Date.now()}`;
    const compress = createCompressClient({ storeName });
    onTestFinished(() => compress.terminate());
    const stored = await compress.download({ kind: 'hub', repo: LIBRARY_REPO, hubUrl });
    compress.terminate();
    const engine = await open({ stored: stored.id, storeName } as { stored: string }, { worker: false });
    const g = await engine.generate(LIBRARY_PROMPT, { maxTokens: LIBRARY_MAX_TOKENS });
    expect(g.ids).toEqual((await expected()).completion.ids);
    const missing = `${hubUrl}/${LIBRARY_EXPECTED_REPO}/resolve/main/`;
    await expectShrinkrayError(
      createEngine(missing),
      'missing_file',
      `${missing} holds neither onnx/model.onnx (a compressed model) nor model.safetensors (an imported one)`,
    );
  });
});

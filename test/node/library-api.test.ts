import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type ChatCompletionChunk, type Engine } from '../../src/lib/node.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { LIBRARY_MAX_TOKENS, LIBRARY_PROMPT, type LibraryExpected } from '../library-model.ts';
import { writeLibraryModel } from '../library-model-node.ts';

/**
 * createEngine from 'shrinkray' in Node (src/lib/node.ts) on stories260K int4-g32 as the CLI
 * compresses it: the greedy text and ids `shrinkray generate` gives, streamed or not; abort,
 * bad arguments and unload; a folder served over http, and one served as a single-page app.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-library-'));
const dir = join(work, 'int4');
const messages = [{ role: 'user' as const, content: LIBRARY_PROMPT }];
let want: LibraryExpected;
let engine: Engine;
let server: Server;
let base: string;

beforeAll(async () => {
  want = await writeLibraryModel(dir);
  engine = await createEngine(dir);
  // A static server over `work` that answers unknown paths with an HTML page, as a single-page app's host does.
  server = createServer((req, res) => {
    readFile(join(work, decodeURIComponent(new URL(req.url!, 'http://x').pathname)))
      .then((bytes) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes))
      .catch(() => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await engine?.unload();
  await new Promise((r) => server?.close(r));
  rmSync(work, { recursive: true, force: true });
});

describe('createEngine in Node', () => {
  it('gives the greedy text and ids of shrinkray generate, for a chat and a plain completion', async () => {
    expect(engine.info).toMatchObject({ model: dir, engine: 'cpu', device: 'wasm', threads: 1, hasChatTemplate: true, vocabSize: 512 });
    const r = await engine.chat.completions.create({ messages, max_tokens: LIBRARY_MAX_TOKENS });
    expect(r).toMatchObject({ object: 'chat.completion', model: dir, choices: [{ index: 0, message: { role: 'assistant' } }] });
    expect(r.choices[0].message.content).toBe(want.chat.text);
    expect(r.choices[0].finish_reason).toBe(want.chat.ids.length < LIBRARY_MAX_TOKENS ? 'stop' : 'length');
    expect(r.usage.completion_tokens).toBe(want.chat.ids.length);
    expect(r.usage.total_tokens).toBe(r.usage.prompt_tokens + r.usage.completion_tokens);
    const pieces: string[] = [];
    const g = await engine.generate(LIBRARY_PROMPT, { max_tokens: LIBRARY_MAX_TOKENS, onToken: (p) => pieces.push(p.text) });
    expect(g.ids).toEqual(want.completion.ids);
    expect(g.text).toBe(want.completion.text);
    expect(pieces.join('')).toBe(g.text);
  });

  it('streams chunks that add up to the non-streamed content; the last carries finish_reason and usage', async () => {
    const whole = await engine.chat.completions.create({ messages, max_tokens: LIBRARY_MAX_TOKENS });
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: LIBRARY_MAX_TOKENS, stream: true })) chunks.push(c);
    expect(chunks[0]!.choices[0].delta.role).toBe('assistant');
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id)).toBe(true);
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(whole.choices[0].message.content);
    expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe(whole.choices[0].finish_reason);
    expect(chunks.at(-1)!.usage).toEqual(whole.usage);
  });

  it('stops within one token of an abort: the text so far, finish_reason abort; a stream ends with an abort chunk', async () => {
    const controller = new AbortController();
    let seen = 0;
    const g = await engine.generate(LIBRARY_PROMPT, {
      maxTokens: LIBRARY_MAX_TOKENS,
      signal: controller.signal,
      onToken: (p) => void (p.id !== null && ++seen === 5 && controller.abort()),
    });
    expect(g.finish_reason).toBe('abort');
    expect(g.ids).toEqual(want.completion.ids.slice(0, 5));
    const stop = new AbortController();
    const chunks: ChatCompletionChunk[] = [];
    const stream = await engine.chat.completions.create({ messages, max_tokens: LIBRARY_MAX_TOKENS, stream: true, signal: stop.signal });
    for await (const c of stream) {
      chunks.push(c);
      if (chunks.length === 4) stop.abort();
    }
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('abort');
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeLessThan(want.chat.ids.length);
    expect(want.chat.text.startsWith(chunks.map((c) => c.choices[0].delta.content ?? '').join(''))).toBe(true);
  });

  it('leaving a stream early stops its turn; the next call runs whole', async () => {
    let n = 0;
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: LIBRARY_MAX_TOKENS, stream: true })) {
      expect(c.choices[0].finish_reason).toBeNull();
      if (++n === 3) break;
    }
    const r = await engine.chat.completions.create({ messages, max_tokens: LIBRARY_MAX_TOKENS });
    expect(r.choices[0].message.content).toBe(want.chat.text);
  });

  it('cancels a load: the signal stops the download with an aborted error naming the URL', async () => {
    const controller = new AbortController();
    const load = createEngine(`${base}/int4/`, {
      signal: controller.signal,
      onProgress: (p) => p.stage === 'download' && controller.abort(),
    });
    await expectShrinkrayError(load, 'aborted', new RegExp(`^loading ${base}/int4/\\S+ was cancelled$`));
  });

  it('refuses bad arguments, naming them', async () => {
    const create = engine.chat.completions.create;
    await expectShrinkrayError(
      create({ messages: 'hi' as never }),
      'bad_argument',
      'chat.completions.create: messages must be an array, got "hi"',
    );
    await expectShrinkrayError(create({ messages: [] }), 'bad_argument', 'chat.completions.create: messages is empty');
    await expectShrinkrayError(
      create({ messages: [{ role: 'tool' as never, content: 'x' }] }),
      'bad_argument',
      `chat.completions.create: messages[0].role must be 'system', 'user' or 'assistant', got "tool"`,
    );
    await expectShrinkrayError(create({ messages, max_tokens: -1 }), 'bad_argument', 'max_tokens must be an integer >= 0, got -1');
    await expectShrinkrayError(create({ messages, temperature: Number.NaN }), 'bad_argument', 'temperature must be a number >= 0, got NaN');
    await expectShrinkrayError(create({ messages, top_p: 0 }), 'bad_argument', 'top_p must be a number in (0, 1], got 0');
    await expectShrinkrayError(engine.generate(42 as never), 'bad_argument', 'generate: the prompt must be a string, got number');
    await expectShrinkrayError(
      createEngine(dir, { engine: 'gpu' as never }),
      'bad_argument',
      `createEngine: engine must be 'auto', 'cpu' or 'onnx', got 'gpu'`,
    );
    await expectShrinkrayError(createEngine({ stored: 'x' }), 'bad_argument', /^createEngine in Node takes a folder path/);
    await expectShrinkrayError(
      createEngine(join(work, 'nope')),
      'missing_file',
      new RegExp(`^createEngine: ${join(work, 'nope')} is not a folder`),
    );
  });

  it('loads from a file: URL and from http; an HTML answer where a file should be is a missing file', async () => {
    const fromFile = await createEngine(pathToFileURL(dir));
    const fromHttp = await createEngine(`${base}/int4/`, { onProgress: () => undefined });
    try {
      for (const e of [fromFile, fromHttp])
        expect((await e.generate(LIBRARY_PROMPT, { maxTokens: LIBRARY_MAX_TOKENS })).ids).toEqual(want.completion.ids);
      expect(fromHttp.info.model).toBe(`${base}/int4/`);
    } finally {
      await fromFile.unload();
      await fromHttp.unload();
    }
    // The model without its tokenizer.json: the server's HTML page in its place is no tokenizer.
    cpSync(dir, join(work, 'partial'), { recursive: true });
    rmSync(join(work, 'partial', 'tokenizer.json'));
    const partial = `${base}/partial/`;
    await expectShrinkrayError(
      createEngine(`${base}/partial`),
      'missing_file',
      `${partial}tokenizer.json is missing: ${partial} has no tokenizer.json`,
    );
    await expectShrinkrayError(
      createEngine(`${base}/elsewhere`),
      'missing_file',
      `${base}/elsewhere/ holds neither onnx/model.onnx (a compressed model) nor model.safetensors (an imported one)`,
    );
  });

  it('after unload, every call fails clearly', async () => {
    const e = await createEngine(dir);
    await e.unload();
    await e.unload(); // twice is fine
    const msg = `the engine for ${dir} was unloaded; call createEngine again`;
    await expectShrinkrayError(e.generate('x'), 'bad_argument', msg);
    await expectShrinkrayError(e.chat.completions.create({ messages }), 'bad_argument', msg);
  });
});

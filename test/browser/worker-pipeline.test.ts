import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { ShrinkrayError } from '../../src/errors.ts';
import { createChatClient, createCompressClient, type ChatClient, type CompressClient, type Progress } from '../../src/worker/client.ts';
import { ProgressLog } from './progress-log.ts';

/**
 * The worker pipeline on the converted stories260K fixture, in real Chromium against the
 * loopback hub: download -> compress int4-g32 -> stored -> a fresh chat worker generates
 * and evaluates, with the fixtures README's independently computed figures as reference.
 */
const hubUrl = inject('hubUrl');
const STORIES = 'test-org/stories260K';
const storeName = `worker-pipeline-${Date.now()}`;

function compressClient(): CompressClient {
  const c = createCompressClient({ storeName });
  onTestFinished(() => c.terminate()); // each test's workers go with it: fewer wasm heaps alive at once
  return c;
}
function chatClient(): ChatClient {
  const c = createChatClient({ storeName });
  onTestFinished(() => c.terminate()); // each test's workers go with it: fewer wasm heaps alive at once
  return c;
}

const requests = async (): Promise<number> => {
  const s = (await (await fetch(`${hubUrl}/__hub/stats`)).json()) as { requests: Record<string, number> };
  return Object.values(s.requests).reduce((a, b) => a + b, 0);
};

// The fixtures, served by the hub from ../shared (test/hub/hub-worker-fixtures.ts), never copied into the project.
const fixtureText = async (file: string) => {
  const res = await fetch(`${hubUrl}/test-org/fixture-text/resolve/main/${file}`);
  if (!res.ok) throw new Error(`${file}: HTTP ${res.status} from the hub (is ../shared/fixtures there?)`);
  return res.text();
};
const readme = await fixtureText('README.md');
const EXPECTED_GREEDY = /Greedy decoding from BOS[\s\S]*?`([^`]+)`/.exec(readme)![1]!;
const sample = await fixtureText('tinystories_sample.txt');

describe('stories260K through the workers', () => {
  let sourceId = '';
  let int4Id = '';

  it('downloads the fixture model with progress, and the original generates the README text', async () => {
    const compress = compressClient();
    const progress: Progress[] = [];
    const info = await compress.download({ kind: 'hub', repo: STORIES, hubUrl }, { onProgress: (p) => progress.push(p) });
    sourceId = info.id;
    expect(info.files.map((f) => f.path)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.stage === 'download' && p.done <= p.total)).toBe(true);

    const chat = chatClient();
    const loaded = await chat.load(sourceId);
    expect(loaded.format).toBe('safetensors');
    const pieces: string[] = [];
    const r = await chat.generate({ prompt: { text: '' }, maxNewTokens: 60 }, { onToken: (p) => pieces.push(p.text) });
    expect(r.stoppedBy).toBe('length');
    expect(pieces.join('')).toBe(r.text);
    expect(r.text.trim().startsWith(EXPECTED_GREEDY.slice(0, 120))).toBe(true);
    const ppl = await chat.evaluate(sample);
    expect(ppl.tokens).toBe(1804);
    expect(ppl.ppl).toBeCloseTo(3.548, 2);
  });

  it('compresses it with int4-g32 into the store; a fresh worker loads it and matches the README perplexity', async () => {
    const compress = compressClient();
    const log = new ProgressLog();
    const info = await compress.compress(sourceId, 'int4-g32', { onProgress: log.onProgress });
    int4Id = info.id;
    expect(info.id).toBe(`compressed:${sourceId}:int4-g32`);
    expect(info.recipe).toBe('int4-g32');
    expect(info.files.map((f) => f.path).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'onnx/model.onnx',
      'shrinkray.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const progress = await log.until('write');
    const stages = new Set(progress.map((p) => p.stage));
    expect([...stages]).toEqual(['compress', 'write']);
    const last = progress.filter((p) => p.stage === 'compress').at(-1)!;
    expect(last.done).toBe(last.total);
    const report = info.report as { bytesIn: number; bytesOut: number; tensors: { kind: string }[] };
    expect(report.bytesOut).toBeLessThan(report.bytesIn);
    expect(report.tensors.filter((t) => t.kind === 'int4-g32')).toHaveLength(35);
    // The page gets tensors placed by the worker, never names to take apart.
    const placed = progress.find((p) => p.stage === 'compress' && p.tensor?.layer === 1 && p.tensor.linear === 'down');
    expect(placed?.tensor).toEqual({ name: 'model.layers.1.mlp.down_proj.weight', layer: 1, key: 'down', linear: 'down' });
    const linears = info.report!.tensors.filter((t) => t.linear !== null);
    expect(linears.map((t) => [t.layer, t.linear, t.bits])).toEqual(
      info.report!.tensors.filter((t) => t.name.endsWith('_proj.weight')).map((t) => [Number(t.name.split('.')[2]), t.linear, 4]),
    );
    expect(linears).toHaveLength(35);

    const before = await requests();
    const chat = chatClient(); // a new worker: a new JavaScript realm with its own store connection
    const models = (await compressClient().list()).map((m) => m.id);
    expect(models).toEqual([sourceId, int4Id]);
    const loaded = await chat.load(int4Id);
    expect(loaded.format).toBe('onnx');
    const r = await chat.generate({ prompt: { text: '' }, maxNewTokens: 40 });
    const ppl = await chat.evaluate(sample);
    expect(ppl.tokens).toBe(1804);
    expect(ppl.ppl).toBeCloseTo(4.08, 2);
    expect(r.ids.length).toBe(40);
    expect(await requests()).toBe(before); // nothing came from the hub
  });

  it('cancels a generation with an AbortSignal and keeps the tokens made so far', async () => {
    const chat = chatClient();
    await chat.load(int4Id);
    const ac = new AbortController();
    let n = 0;
    const r = await chat.generate(
      { prompt: { text: 'Once upon a time' }, maxNewTokens: 400 },
      {
        signal: ac.signal,
        onToken: () => {
          if (++n === 5) ac.abort();
        },
      },
    );
    expect(r.stoppedBy).toBe('abort');
    expect(r.ids.length).toBeGreaterThanOrEqual(5);
    expect(r.ids.length).toBeLessThan(400);
  });

  it('cancels a compression: the call rejects with aborted and nothing is stored or left staged', async () => {
    const compress = compressClient();
    const ac = new AbortController();
    const err = await compress
      .compress(sourceId, 'int8', {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.stage === 'compress' && p.done >= 3) ac.abort();
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShrinkrayError);
    expect(err).toMatchObject({ code: 'aborted' });
    expect((await compress.list()).map((m) => m.id)).toEqual([sourceId, int4Id]);
    expect((await compress.usage()).stagedBytes).toBe(0);
  });
});

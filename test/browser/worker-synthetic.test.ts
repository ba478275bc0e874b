import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { openModelStore } from '../../src/store/idb-store.ts';
import {
  createChatClient,
  createCompressClient,
  type CompressClient,
  type Progress,
  type StoredModelInfo,
} from '../../src/worker/client.ts';
import { sampleWorkerHeaps } from './worker-heap-sampler.ts';

/**
 * The worker pipeline at size: a deterministic synthetic model with the SmolLM2-135M shape
 * cut to 13 layers (297 MB fp32, served by the loopback hub; test/hub/hub-worker-fixtures.ts)
 * is downloaded, compressed with int4-g32 while the workers' memory is sampled, found by
 * fresh workers without the network, and survives a compress worker killed mid-way.
 */
const hubUrl = inject('hubUrl');
const REPO = 'test-org/synthetic-smollm-13l';
const LARGEST_TENSOR = 49152 * 576 * 4; // the [vocab, dim] fp32 embedding
const MB = 1024 * 1024;
const storeName = `worker-synthetic-${Date.now()}`;

function compressClient(): CompressClient {
  const c = createCompressClient({ storeName });
  onTestFinished(() => c.terminate()); // each test's workers go with it: fewer wasm heaps alive at once
  return c;
}

const hubRequests = async (): Promise<number> => {
  const s = (await (await fetch(`${hubUrl}/__hub/stats`)).json()) as { requests: Record<string, number> };
  return Object.values(s.requests).reduce((a, b) => a + b, 0);
};

describe(`${REPO} (297 MB) through the workers`, () => {
  let source: StoredModelInfo;
  let int4: StoredModelInfo;
  let greedyIds: number[] = [];

  it('downloads into IndexedDB', async () => {
    const downloader = compressClient();
    source = await downloader.download({ kind: 'hub', repo: REPO, hubUrl });
    downloader.terminate(); // one compress worker at a time, so the heap sampler finds the right one
    const weights = source.files.find((f) => f.path === 'model.safetensors')!;
    expect(weights.size).toBeGreaterThan(280 * MB); // 297 million bytes
  });

  it('compresses with int4-g32; peak worker heap stays under 1.5x the largest tensor plus the output', async () => {
    const compress = compressClient();
    await compress.list(); // the worker is up, so the sampler can attach to it
    const sampler = await sampleWorkerHeaps(
      'worker-synthetic.test.ts',
      (url) => url.includes('compress.worker') || url.includes('quantize.worker'),
    );
    const progress: Progress[] = [];
    try {
      int4 = await compress.compress(source.id, 'int4-g32', { onProgress: (p) => progress.push(p) });
    } finally {
      var heap = await sampler.stop(); // eslint-disable-line no-var
    }
    const output = int4.files.filter((f) => f.path.startsWith('onnx/')).reduce((n, f) => n + f.size, 0);
    const budget = 1.5 * LARGEST_TENSOR + output;
    const compressWorkers = heap.workers.filter((w) => w.url.includes('compress.worker'));
    expect(compressWorkers).toHaveLength(1);
    const main = compressWorkers[0]!;
    expect(main.samples).toBeGreaterThan(10);
    expect(main.peakBytes).toBeLessThan(budget);
    expect(output).toBeLessThan(source.bytes / 2);
    expect(new Set(progress.map((p) => p.stage))).toEqual(new Set(['compress', 'write']));
  });

  it('a fresh worker lists both models and generates from the compressed one, with no request to the hub', async () => {
    const before = await hubRequests();
    const lister = compressClient();
    const models = (await lister.list()).map((m) => m.id);
    lister.terminate();
    expect(models).toEqual([source.id, int4.id]);
    const chat = createChatClient({ storeName });
    onTestFinished(() => chat.terminate());
    const loaded = await chat.load(int4.id, { device: 'wasm' });
    const r = await chat.generate({ prompt: { text: 'w5 w7 w11' }, maxNewTokens: 16 });
    // Random weights, greedy: a fixed continuation of 16 tokens (this model never picks EOS here).
    expect(r.stoppedBy).toBe('length');
    expect(r.ids).toHaveLength(16);
    expect(r.ids.every((id) => id >= 0 && id < 49152)).toBe(true);
    greedyIds = r.ids;
    // The messages path: the stored tokenizer_config.json's chat template renders the prompt.
    expect(loaded.hasChatTemplate).toBe(true);
    const chatReply = await chat.generate({
      prompt: {
        messages: [
          { role: 'user', content: 'w5 w7' },
          { role: 'assistant', content: 'w11' },
        ],
      },
      maxNewTokens: 3,
    });
    expect(chatReply.promptTokens).toBe(4); // <s> w5 w7 w11

    expect(await hubRequests()).toBe(before);
  });

  it('with the int4 model loaded on the CPU engine, the chat worker holds less than 1.3x its stored bytes plus the KV cache', async () => {
    const chat = createChatClient({ storeName });
    onTestFinished(() => chat.terminate());
    const loaded = await chat.load(int4.id);
    expect((await chat.generate({ prompt: { text: 'w5 w7 w11' }, maxNewTokens: 16 })).ids).toEqual(greedyIds);
    expect(loaded).toMatchObject({ engine: 'cpu' });
    // The model loaded and used: the browser's own measure of the memory of every context of
    // this page (it answers at the next garbage collection, so collected garbage is out),
    // summed over the chat worker and the engine's helper threads (blob: workers), whose
    // shared wasm memory holds the stored bytes, scratch and KV caches.
    type Breakdown = { bytes: number; attribution: { url: string; scope: string }[] };
    const measure = (
      performance as unknown as { measureUserAgentSpecificMemory(): Promise<{ breakdown: Breakdown[] }> }
    ).measureUserAgentSpecificMemory();
    const { breakdown } = await measure;
    const ours = breakdown.filter((b) => b.attribution.some((a) => a.url.includes('chat.worker') || a.url.startsWith('blob:')));
    const workerBytes = ours.reduce((n, b) => n + b.bytes, 0);
    const stored = int4.files.filter((f) => f.path.startsWith('onnx/')).reduce((n, f) => n + f.size, 0);
    // Keys and values of 13 layers x 3 KV heads x 64 dims, f32, for the 64 positions of the engine's first cache block.
    const kvCache = 2 * 13 * 3 * 64 * 4 * 64;
    expect(loaded.memoryBytes).toBeGreaterThan(stored);
    expect(workerBytes).toBeGreaterThan(stored); // the wasm memory is in the measure
    expect(workerBytes).toBeLessThan(1.3 * stored + kvCache);
  });

  it.each(['compress', 'write'] as const)(
    'a compress worker terminated in its %s stage leaves no visible model; GC removes what it staged',
    async (stage) => {
      const compress = compressClient();
      let kill!: (p: Progress) => void;
      const killed = new Promise<Progress>((resolve) => {
        kill = resolve;
      });
      let done = false;
      const result = compress.compress(source.id, 'int8', {
        onProgress: (p) => {
          // In the write stage, once a few 8 MiB chunks are committed.
          if (!done && p.stage === stage && p.done >= (stage === 'write' ? 40 * MB : 1) && p.done < p.total) {
            done = true;
            compress.terminate();
            kill(p);
          }
        },
      });
      const at = await Promise.race([
        killed,
        result.then(
          () => undefined,
          () => undefined,
        ),
      ]);
      expect(at, `the compression ended before any ${stage} progress`).toBeDefined();
      // A terminated worker never answers: the call stays pending (checked after the store's
      // round trips below, an answer's time to arrive; no sleep), and nothing was committed.
      let settled = 'pending';
      void result.then(
        () => (settled = 'resolved'),
        () => (settled = 'rejected'),
      );
      const store = await openModelStore({ name: storeName, collectGarbage: false });
      try {
        expect((await store.listModels()).map((m) => m.id)).toEqual([source.id, int4.id]);
        const gc = await store.collectGarbage({ orphanAfterMs: 0 }); // the killed writer can never finish
        if (stage === 'write') expect(gc.chunksDeleted).toBeGreaterThan(0);
        expect(await store.listStaged()).toEqual([]);
        expect((await store.usage()).stagedBytes).toBe(0);
      } finally {
        store.close();
      }
      expect(settled).toBe('pending');
    },
  );

  it('after the kills, the earlier compressed model still loads and generates', async () => {
    const chat = createChatClient({ storeName });
    onTestFinished(() => chat.terminate());
    await chat.load(int4.id, { device: 'wasm' });
    const r = await chat.generate({ prompt: { text: 'w5 w7 w11' }, maxNewTokens: 4 });
    expect(r.ids).toEqual(greedyIds.slice(0, 4)); // the same model, the same greedy start
    const compress = compressClient();
    await compress.delete(int4.id);
    await compress.delete(source.id);
    expect(await compress.list()).toEqual([]);
  });
});

import * as Comlink from 'comlink';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { calibWasmUrl } from '../../src/kernels/calib/wasm/calib-wasm-url.ts';
import { createCalibPoolBrowser } from '../../src/kernels/calib/wasm/calib-pool-browser.ts';
import { createQuantizePoolBrowser } from '../../src/kernels/quantize/wasm/quantize-pool-browser.ts';
import { createChatClient, createCompressClient, type ChatClient, type CompressClient } from '../../src/worker/client.ts';
import { firstAnswer } from '../../src/worker/worker-start.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/**
 * Corrupt and wrong inputs through the worker API, in real Chromium against the loopback
 * hub: what reaches the page is a ShrinkrayError (instanceof works, the code survives) whose
 * message names the file, and nothing is left in the store.
 */
const hubUrl = inject('hubUrl');
const storeName = `worker-errors-${Date.now()}`;
const compress: CompressClient = createCompressClient({ storeName });
const chat: ChatClient = createChatClient({ storeName });

async function control(what: 'reset' | 'faults', body: unknown = {}): Promise<void> {
  const res = await fetch(`${hubUrl}/__hub/${what}`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.ok).toBe(true);
}

afterAll(() => {
  compress.terminate();
  chat.terminate();
});
beforeEach(() => control('reset'));

describe('downloads of corrupt models, through the compress worker', () => {
  it.each([
    ['a safetensors header that is not JSON', 'test-org/bad-header', {}, 'bad_file', /^model\.safetensors: not a valid safetensors file/],
    [
      'a shard missing from the index',
      'test-org/missing-shard',
      {},
      'missing_file',
      /^model-00002-of-00002\.safetensors: named in model\.safetensors\.index\.json but not found/,
    ],
    [
      'a file whose hash does not match',
      'test-org/synthetic-4m',
      { 'test-org/synthetic-4m/model.safetensors': { corrupt: 'flip' } },
      'bad_file',
      /^model\.safetensors: sha-256 mismatch/,
    ],
    [
      'a file whose size does not match',
      'test-org/synthetic-4m',
      { 'test-org/synthetic-4m/model.safetensors': { corrupt: 'truncate' } },
      'bad_file',
      /^model\.safetensors: size mismatch/,
    ],
  ] as const)('%s', async (_what, repo, faults, code, message) => {
    await control('faults', faults);
    await expectShrinkrayError(compress.download({ kind: 'hub', repo, hubUrl }), code, message);
    expect(await compress.list()).toEqual([]);
  });

  it('a repo that does not exist', async () => {
    await expectShrinkrayError(
      compress.download({ kind: 'hub', repo: 'test-org/no-such-model', hubUrl }),
      'missing_file',
      /test-org\/no-such-model/,
    );
  });
});

describe('cancelling a download through the worker', () => {
  it('rejects with aborted, leaves no model, and the next call resumes from what was stored', async () => {
    const repo = 'test-org/synthetic-16m';
    await control('faults', { [`${repo}/model.safetensors`]: { bytesPerSecond: 8 * 1024 * 1024 } });
    const ac = new AbortController();
    await expectShrinkrayError(
      compress.download(
        { kind: 'hub', repo, hubUrl },
        {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.item === 'model.safetensors' && p.done > 4 * 1024 * 1024) ac.abort();
          },
        },
      ),
      'aborted',
    );
    expect((await compress.list()).some((m) => m.id.includes(repo))).toBe(false);
    const staged = (await compress.usage()).stagedBytes;
    expect(staged).toBeGreaterThan(0);

    await control('faults', {});
    const before = ((await (await fetch(`${hubUrl}/__hub/stats`)).json()) as { bytesServed: Record<string, number> }).bytesServed;
    const info = await compress.download({ kind: 'hub', repo, hubUrl });
    const after = ((await (await fetch(`${hubUrl}/__hub/stats`)).json()) as { bytesServed: Record<string, number> }).bytesServed;
    const weights = info.files.find((f) => f.path === 'model.safetensors')!.size;
    const served = (after[`${repo}/model.safetensors`] ?? 0) - (before[`${repo}/model.safetensors`] ?? 0);
    // The rest of the file, plus the safetensors header read again to check it before downloading.
    expect(served).toBeGreaterThanOrEqual(weights - staged);
    expect(served - (weights - staged)).toBeLessThan(64 * 1024);
    await compress.delete(info.id);
  });
});

describe('compressions that cannot run', () => {
  it('a recipe that does not fit the model names the step and the figures', async () => {
    // (Weights that do not fit config.json never reach the store: the download refuses them, hardening-workers.test.ts.)
    const { id } = await compress.download({ kind: 'hub', repo: 'test-org/synthetic-4m', hubUrl });
    await expectShrinkrayError(compress.compress(id, 'heads99'), 'bad_recipe', /heads99 would remove every KV group \(2 of 2\)/);
    expect((await compress.list()).map((m) => m.id)).toEqual([id]);
    expect((await compress.usage()).stagedBytes).toBe(0);
  });

  it('an unknown recipe, and a model id the store does not have', async () => {
    const [model] = await compress.list();
    await expectShrinkrayError(compress.compress(model!.id, 'int3-g7'), 'bad_recipe');
    await expectShrinkrayError(
      compress.compress('hub:nobody/nothing@main', 'int4-g32'),
      'missing_file',
      /model 'hub:nobody\/nothing@main' is not in the store/,
    );
  });
});

describe('the chat worker', () => {
  it('names what is missing', async () => {
    await expectShrinkrayError(chat.generate({ prompt: { text: 'hi' }, maxNewTokens: 2 }), 'bad_argument');
    await expectShrinkrayError(chat.load('compressed:nothing:int4-g32'), 'missing_file');
    // synthetic-4m has no tokenizer.json: the error says which model lacks which file.
    const [model] = await compress.list();
    await expectShrinkrayError(chat.load(model!.id), 'missing_file', /has no tokenizer\.json/);
  });
});

describe("kernel pool workers (the compress worker's quantize and calibration pools), as Web Workers", () => {
  it("a quantize worker's bad_argument (a NaN weight) reaches the pool's caller as bad_argument, naming the row and block", async () => {
    const pool = await createQuantizePoolBrowser(2);
    try {
      const w = new Float32Array(8 * 64).fill(0.5);
      w[5 * 64 + 40] = NaN;
      await expectShrinkrayError(
        pool.quantizeRtn(w, 8, 64, { bits: 4, blockSize: 32, symmetric: true, scaleDtype: 'f32' }),
        'bad_argument',
        /row 5.*block 1|block 1.*row 5/,
      );
    } finally {
      pool.close();
    }
  });

  it("a calibration worker's bad_argument (an input shorter than its shape) stays bad_argument", async () => {
    const pool = await createCalibPoolBrowser(await WebAssembly.compileStreaming(fetch(calibWasmUrl)), 2);
    try {
      await expectShrinkrayError(
        pool.gram(new Float32Array(10), null, 4, 8),
        'bad_argument',
        'calib.wasm: x [4, 8] needs 32 values, got 10',
      );
    } finally {
      pool.close();
    }
  });
});

describe("the page's wait for a worker's first answer", () => {
  it('a worker that never answers (its script starts nothing) fails the first call with a timeout naming it', async () => {
    const url = URL.createObjectURL(new Blob(['// no Comlink.expose: the page hears nothing'], { type: 'text/javascript' }));
    const worker = new Worker(url, { name: 'silent' });
    try {
      const api = Comlink.wrap<{ configure(): Promise<void> }>(worker);
      await expectShrinkrayError(firstAnswer(api.configure(), 'silent', 300), 'timeout', /^the silent worker did not answer within 0\.3 s/);
    } finally {
      worker.terminate();
      URL.revokeObjectURL(url);
    }
  });
});

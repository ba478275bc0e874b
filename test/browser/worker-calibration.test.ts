import { unzipSync } from 'fflate';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { ShrinkrayError } from '../../src/errors.ts';
import { createChatClient, createCompressClient, type CompressClient } from '../../src/worker/client.ts';
import { CLI_CALIBRATED, CLI_CALIBRATED_REPO } from '../hub/cli-calibrated.ts';
import { ProgressLog } from './progress-log.ts';

/**
 * Calibrated compression in the page, through the compress worker: calibration text sent
 * with the recipe, progress per decoder block, cancel; and the result is byte-identical to
 * what `shrinkray compress --calib` wrote for the same recipe, text and seed (the hub's
 * global setup ran the CLI in Node: test/hub/hub-worker-fixtures.ts).
 */
const hubUrl = inject('hubUrl');
const storeName = `worker-calibration-${Date.now()}`;

function compressClient(): CompressClient {
  const c = createCompressClient({ storeName });
  onTestFinished(() => c.terminate());
  return c;
}

const fetchBytes = async (path: string): Promise<Uint8Array> => {
  const res = await fetch(`${hubUrl}/${path}`);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} from the hub (is ../shared/fixtures there?)`);
  return new Uint8Array(await res.arrayBuffer());
};
const calibrationText = new TextDecoder().decode(await fetchBytes('test-org/fixture-text/resolve/main/tinystories_calibration.txt'));
const calibration = {
  text: calibrationText,
  name: 'tinystories_calibration.txt',
  windows: CLI_CALIBRATED.windows,
  seed: CLI_CALIBRATED.seed,
};

describe('calibrated compression through the compress worker', () => {
  let sourceId = '';

  it.each(CLI_CALIBRATED.recipes)('%s: progress per block, and the same bytes as the CLI', async (recipe) => {
    const compress = compressClient();
    if (!sourceId) sourceId = (await compress.download({ kind: 'hub', repo: 'test-org/stories260K', hubUrl })).id;
    const log = new ProgressLog();
    const info = await compress.compress(sourceId, recipe, { calibration, onProgress: log.onProgress });
    const progress = await log.until('write');
    // Before the first block: what is being prepared, in order.
    expect(progress.slice(0, 3)).toEqual([
      { stage: 'prepare', done: 0, total: 2, item: 'cutting the calibration text into tokens' },
      { stage: 'prepare', done: 1, total: 2, item: 'starting the calibration workers' },
      { stage: 'prepare', done: 2, total: 2, item: 'calibration workers ready' },
    ]);
    const blocks = progress.filter((p) => p.stage === 'calibrate');
    expect(blocks.at(-1)).toMatchObject({ done: 5, total: 5 });
    expect(new Set(blocks.map((p) => p.done))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
    expect(progress.findIndex((p) => p.stage === 'compress')).toBeLessThan(progress.findIndex((p) => p.stage === 'write'));
    expect(info.report!.calibration).toMatchObject({
      name: 'tinystories_calibration.txt',
      windows: 8,
      seed: CLI_CALIBRATED.seed,
      kernels: 'wasm',
    });

    const files = unzipSync(new Uint8Array(await (await compress.exportZip(info.id)).arrayBuffer()));
    const cli = await fetchBytes(`${CLI_CALIBRATED_REPO}/resolve/main/${recipe}/onnx/model.onnx`);
    const page = files['onnx/model.onnx']!;
    expect(page.byteLength).toBe(cli.byteLength);
    expect(page.every((b, i) => b === cli[i])).toBe(true);
    const cliReport = JSON.parse(
      new TextDecoder().decode(await fetchBytes(`${CLI_CALIBRATED_REPO}/resolve/main/${recipe}/shrinkray.json`)),
    ) as {
      tensors: { name: string; relError: number }[];
    };
    expect(info.report!.tensors.map((t) => [t.name, t.relError])).toEqual(cliReport.tensors.map((t) => [t.name, t.relError]));
  });

  it('the compressed model runs in a fresh chat worker', async () => {
    const chat = createChatClient({ storeName });
    onTestFinished(() => chat.terminate());
    const id = (await compressClient().list()).find((m) => m.recipe === CLI_CALIBRATED.recipes[0])!.id;
    await chat.load(id);
    const r = await chat.generate({ prompt: { text: 'Once upon a time' }, maxNewTokens: 16, temperature: 0 });
    expect(r.ids).toHaveLength(16);
  });

  it('refuses a calibrated recipe without calibration text, and cancels during calibration leaving nothing stored', async () => {
    const compress = compressClient();
    const before = (await compress.list()).map((m) => m.id);
    const missing = await compress.compress(sourceId, 'gptq-int4-g32').catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'bad_argument', message: expect.stringMatching(/calibrates on text/) });
    const ac = new AbortController();
    const err = await compress
      .compress(sourceId, 'sparsegpt50+gptq-int4-g32', {
        calibration,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.stage === 'calibrate' && p.done >= 1) ac.abort();
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShrinkrayError);
    expect(err).toMatchObject({ code: 'aborted' });
    expect((await compress.list()).map((m) => m.id)).toEqual(before);
    expect((await compress.usage()).stagedBytes).toBe(0);
  });
});

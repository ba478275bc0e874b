import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShrinkrayErrorCode } from '../../src/errors.ts';
import { loadOnnxCausalLM } from '../../src/node/load-engine.ts';
import { runCli, splitOutput } from './run-cli.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { BUDGET } from '../error-budgets.ts';

const root = join(import.meta.dirname, '..', '..');
const fixtures = process.env.SHRINKRAY_FIXTURES ?? join(root, '..', 'shared', 'fixtures');
const source = join(root, 'public', 'models', 'stories260K');
const sample = join(fixtures, 'text', 'tinystories_sample.txt');
const EXPECTED_START =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.';

describe('shrinkray compress -> generate / eval on onnxruntime-web', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'shrinkray-onnx-cli-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('compress fp32 writes a transformers.js folder; greedy text and perplexity match the fixture figures', async () => {
    const out = join(tmp, 'fp32');
    const c = await runCli(['compress', source, '--recipe', 'fp32', '--out', out]);
    expect(c.code).toBe(0);
    const summary = splitOutput(c.stdout).json;
    expect(Object.keys(summary)).toEqual(['recipe', 'bytesIn', 'bytesOut', 'seconds']);
    expect(summary.recipe).toBe('fp32');
    expect(summary.bytesIn).toBe((await stat(join(source, 'model.safetensors'))).size);
    expect(summary.bytesOut).toBe((await stat(join(out, 'onnx', 'model.onnx'))).size);
    for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'shrinkray.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const report = JSON.parse(await readFile(join(out, 'shrinkray.json'), 'utf8')) as { recipe: string; tensors: unknown[] };
    expect(report.recipe).toBe('fp32');
    expect(report.tensors.length).toBe(2 + 5 * 9); // embedding, final norm, 9 per layer

    // The export is for onnxruntime (and transformers.js): run it there.
    const g = await runCli(['generate', out, '--prompt', '', '--max-new-tokens', '80', '--temperature', '0', '--engine', 'onnx']);
    expect(g.code).toBe(0);
    expect(g.stdout.trim()).toContain(EXPECTED_START);
    expect(splitOutput(g.stdout).json.engine).toBe('onnx');

    const e = await runCli(['eval', out, '--text', sample, '--engine', 'onnx']);
    expect(e.code).toBe(0);
    const ev = splitOutput(e.stdout).json as { ppl: number; tokens: number; engine: string };
    expect(ev.engine).toBe('onnx');
    expect(ev.tokens).toBe(1804);
    expect(Math.abs(ev.ppl - 3.548)).toBeLessThan(BUDGET.pplVsFixture);
  });

  it('compress fp16 with forced external data: half the bytes, same greedy text, perplexity within 0.002', async () => {
    const out = join(tmp, 'fp16');
    const c = await runCli(['compress', source, '--recipe', 'fp16', '--out', out, '--external-data-threshold', '0']);
    expect(c.code).toBe(0);
    const summary = splitOutput(c.stdout).json as { bytesIn: number; bytesOut: number };
    expect(existsSync(join(out, 'onnx', 'model.onnx_data'))).toBe(true);
    expect(summary.bytesOut / summary.bytesIn).toBeLessThan(0.6);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32', use_external_data_format: { 'model.onnx': 1 } });
    const g = await runCli(['generate', out, '--prompt', '', '--max-new-tokens', '80', '--temperature', '0']);
    expect(g.stdout).toContain(EXPECTED_START);
    const ev = splitOutput((await runCli(['eval', out, '--text', sample])).stdout).json as { ppl: number };
    expect(Math.abs(ev.ppl - 3.548)).toBeLessThan(BUDGET.pplVsFixture);
  });

  it('refuses an unknown recipe before doing any work', async () => {
    const out = join(tmp, 'never');
    const c = await runCli(['compress', source, '--recipe', 'int3-bogus', '--out', out]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/'int3-bogus'.*\[bad_recipe\]/);
    expect(existsSync(out)).toBe(false);
  });

  it('names the file when a folder is missing files or holds a truncated or corrupt model', async () => {
    const good = join(tmp, 'fp32');
    const ext = join(tmp, 'fp16');
    const expectError = async (dir: string, code: ShrinkrayErrorCode, file: RegExp) => {
      const err = await expectShrinkrayError(loadOnnxCausalLM(dir), code, file);
      expect(err.message).not.toMatch(/\n\s+at /); // no raw stack in the message
    };
    const copy = async (from: string, name: string, files: string[]) => {
      const dir = join(tmp, name);
      await mkdir(join(dir, 'onnx'), { recursive: true });
      for (const f of files) await copyFile(join(from, f), join(dir, f));
      return dir;
    };
    const model = await readFile(join(good, 'onnx', 'model.onnx'));

    const truncated = await copy(good, 'truncated', ['config.json']);
    await writeFile(join(truncated, 'onnx', 'model.onnx'), model.subarray(0, model.byteLength >> 1));
    await expectError(truncated, 'bad_file', /truncated[\\/]onnx[\\/]model\.onnx .*truncated/);

    const corrupt = await copy(good, 'corrupt', ['config.json']);
    const garbage = Buffer.from(model);
    for (let i = 100; i < garbage.length; i += 97) garbage[i] = 0xff;
    await writeFile(join(corrupt, 'onnx', 'model.onnx'), garbage);
    await expectError(corrupt, 'bad_file', /corrupt[\\/]onnx[\\/]model\.onnx/);

    await expectError(await copy(good, 'no-model', ['config.json']), 'missing_file', /no-model[\\/]onnx[\\/]model\.onnx is missing/);
    await expectError(await copy(good, 'no-config', ['onnx/model.onnx']), 'missing_file', /no-config[\\/]config\.json is missing/);
    await expectError(
      await copy(ext, 'no-data', ['config.json', 'onnx/model.onnx']),
      'missing_file',
      /no-data[\\/]onnx[\\/]model\.onnx_data is missing/,
    );
    const shortData = await copy(ext, 'short-data', ['config.json', 'onnx/model.onnx']);
    await writeFile(join(shortData, 'onnx', 'model.onnx_data'), new Uint8Array(1000));
    await expectError(shortData, 'bad_file', /short-data[\\/]onnx[\\/]model\.onnx_data holds 1000 bytes/);

    // Through the CLI: one clear line on stderr, exit code 1.
    const c = await runCli(['eval', truncated, '--text', sample]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/model\.onnx .*\[bad_file\]/);
  });
});

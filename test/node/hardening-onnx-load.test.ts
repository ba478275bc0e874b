import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource, type ByteSource } from '../../src/formats/byte-source.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { folderOpener } from '../../src/node/folder-opener.ts';
import { openRunnableModel, type OnnxGraph } from '../../src/runtime/runnable-model.ts';
import { craftDecoderGraph, type CraftOptions } from '../crafted-onnx.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput } from './run-cli.ts';

/**
 * Hostile compressed model folders through `shrinkray generate` / `eval` (issue 10, items 1,
 * 5 and 6): external data that points outside the folder, at a device, or at ranges the
 * file does not hold; a config.json that disagrees with its graph; weights that hold NaN or
 * Infinity. Each ends in one line naming the file and what was wrong, exit code 1.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-onnx-load-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const config = parseHfConfig(JSON.parse(readFileSync(join(STORIES_DIR, 'config.json'), 'utf8')), 'config.json');
let n = 0;

/** A folder with the stories config and tokenizer, and a crafted onnx/model.onnx. */
function craftedFolder(o: CraftOptions, configEdit: Record<string, unknown> = {}): string {
  const dir = join(work, `crafted-${++n}`);
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(STORIES_DIR, f), join(dir, f));
  const json = JSON.parse(readFileSync(join(STORIES_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...json, ...configEdit }));
  writeFileSync(join(dir, 'onnx', 'model.onnx'), craftDecoderGraph(config, o));
  return dir;
}

const external = (location: string, offset?: string, length?: string) => ({
  initializers: [{ name: 'w', dims: [4, 4], external: { location, offset, length } }],
});

async function expectOneLineError(args: string[], pattern: RegExp): Promise<string> {
  const r = await runCli(args);
  expect(r.code, r.stdout).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  return lines[0]!;
}

describe('external data of an ONNX graph (item 1)', () => {
  it.each([
    ['a parent folder', '../../secret.bin'],
    ['an absolute path', '/etc/passwd'],
    ['a sub-folder', 'data/w.bin'],
    ['a hidden file', '.hidden'],
  ])('a location into %s is refused before any file is opened', async (_what, location) => {
    writeFileSync(join(work, 'secret.bin'), new Uint8Array(64));
    const dir = craftedFolder(external(location, '0', '64'));
    await expectOneLineError(
      ['generate', dir, '--prompt', 'Hi'],
      /onnx[\\/]model\.onnx is not a valid ONNX model: external initializer 'w' has location '.*'; it must be a plain file name beside the graph \[bad_file\]$/,
    );
  });

  it('a data file that is a device (/dev/zero) or a folder is refused, without reading it', async () => {
    const dev = craftedFolder(external('w.bin', '0', '64'));
    symlinkSync('/dev/zero', join(dev, 'onnx', 'w.bin'));
    await expectOneLineError(
      ['generate', dev, '--prompt', 'Hi'],
      /onnx[\\/]w\.bin: not a regular file \(a device\), where a model file belongs \[bad_file\]$/,
    );
    const folder = craftedFolder(external('w.bin', '0', '64'));
    mkdirSync(join(folder, 'onnx', 'w.bin'));
    await expectOneLineError(
      ['eval', folder, '--text', fixtureTextPath('tinystories_sample.txt')],
      /onnx[\\/]w\.bin: is a folder, where a model file belongs \[bad_file\]$/,
    );
  });

  it.each([
    ['an offset that is not a number', 'abc', '64', /has offset 'abc', not a byte count/],
    ['a negative length', '0', '-64', /has length '-64', not a byte count/],
    ['a length other than its shape takes', '0', '100', /has length 100, but its type 1 and shape \[4, 4\] take 64 bytes/],
  ])('%s is refused', async (_what, offset, length, pattern) => {
    const dir = craftedFolder(external('w.bin', offset, length));
    writeFileSync(join(dir, 'onnx', 'w.bin'), new Uint8Array(256));
    await expectOneLineError(['generate', dir, '--prompt', 'Hi'], pattern);
  });

  it('a range past the end of the data file is refused before any read', async () => {
    const dir = craftedFolder(external('w.bin', '1000000', '64'));
    writeFileSync(join(dir, 'onnx', 'w.bin'), new Uint8Array(64));
    await expectOneLineError(
      ['generate', dir, '--prompt', 'Hi'],
      /onnx[\\/]w\.bin holds 64 bytes; .*model\.onnx needs at least 1000064 \(truncated\?\) \[bad_file\]$/,
    );
  });

  it('reads only the ranges the initializers name, not the whole data file', async () => {
    const dir = craftedFolder({
      initializers: [
        { name: 'a', dims: [16], external: { location: 'w.bin', offset: '0', length: '64' } },
        { name: 'b', dims: [4, 4], external: { location: 'w.bin', offset: '4096', length: '64' } },
      ],
    });
    const data = new Uint8Array(4 * 1024 * 1024).map((_, i) => i % 251);
    writeFileSync(join(dir, 'onnx', 'w.bin'), data);
    const { open, display } = folderOpener(dir);
    let read = 0;
    const counting = async (path: string): Promise<ByteSource | undefined> => {
      const src = await open(path);
      if (!src || path !== 'onnx/w.bin') return src;
      return { ...src, read: async (offset, length) => ((read += length), src.read(offset, length)) };
    };
    const m = await openRunnableModel(counting, { where: dir, display, tokenizer: false });
    const graph = m.graph as OnnxGraph;
    expect(read).toBe(128);
    const [file] = graph.externalData;
    expect(file!.data.byteLength).toBe(4096 + 64); // up to the last initializer's end
    expect(file!.data.subarray(4096)).toEqual(data.subarray(4096, 4160));
    expect(file!.data.subarray(0, 64)).toEqual(data.subarray(0, 64));
    expect(file!.data.subarray(64, 4096).every((b) => b === 0)).toBe(true); // never read
  });

  it('an onnx/model.onnx that is a folder is one line', async () => {
    const dir = craftedFolder({});
    rmSync(join(dir, 'onnx', 'model.onnx'));
    mkdirSync(join(dir, 'onnx', 'model.onnx'));
    await expectOneLineError(
      ['generate', dir, '--prompt', 'Hi'],
      /onnx[\\/]model\.onnx: is a folder, where a model file belongs \[bad_file\]$/,
    );
  });
});

describe('config.json against the graph (item 5)', () => {
  it.each([
    [
      'fewer layers',
      { layers: 4 },
      {},
      /has 4 layers of KV cache inputs \(past_key_values\.N\.\*\) and 4 of outputs \(present\.N\.\*\), but num_hidden_layers is 5/,
    ],
    ['other KV heads', { kvHeads: 2 }, {}, /'past_key_values\.0\.key' has 2 along axis 1 but num_key_value_heads is 4/],
    ['another vocabulary', {}, { vocab_size: 600 }, /'logits' has 512 along axis 2 but vocab_size is 600/],
    ['another head size', { headDim: 16 }, {}, /'past_key_values\.0\.key' has 16 along axis 3 but the head size/],
  ])('a graph with %s than config.json says is refused at load', async (_what, graph, configEdit, pattern) => {
    const dir = craftedFolder(graph, configEdit);
    const line = await expectOneLineError(['eval', dir, '--text', fixtureTextPath('tinystories_sample.txt')], pattern);
    expect(line).toMatch(/model\.onnx does not match .*config\.json: /);
  });

  it('a real compressed folder whose config.json was edited fails at load, not with ppl null', async () => {
    const out = join(work, 'real-fp32');
    expect((await runCli(['compress', STORIES_DIR, '--recipe', 'fp32', '--out', out])).code).toBe(0);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(out, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 4 }));
    await expectOneLineError(
      ['eval', out, '--text', fixtureTextPath('tinystories_sample.txt')],
      /but num_hidden_layers is 4 \[bad_file\]$/,
    );
  });
});

describe('non-finite weights (item 6)', () => {
  let nanDir: string;
  beforeAll(async () => {
    nanDir = join(work, 'nan');
    mkdirSync(nanDir);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
      copyFileSync(join(STORIES_DIR, f), join(nanDir, f));
    const bytes = new Uint8Array(readFileSync(join(STORIES_DIR, 'model.safetensors')));
    const norm = (await readSafetensors(bytesSource(bytes, 'model.safetensors'))).tensors.get('model.norm.weight')!;
    new Float32Array(bytes.buffer, norm.fileOffset, norm.byteLength / 4).fill(NaN);
    writeFileSync(join(nanDir, 'model.safetensors'), bytes);
  });

  it('generate and eval on the reference engine say the logits hold NaN', async () => {
    await expectOneLineError(
      ['generate', nanDir, '--prompt', 'Once'],
      /model\.safetensors: the model's logits hold NaN \(new token 1 of \d+, vocabulary entry 0\): its weights are not all finite numbers/,
    );
    const line = await expectOneLineError(['eval', nanDir, '--text', fixtureTextPath('tinystories_sample.txt')], /logits hold NaN/);
    expect(line).not.toMatch(/null/);
  });

  it('a compressed model of them fails the same way on onnxruntime', async () => {
    const out = join(work, 'nan-fp32');
    const c = await runCli(['compress', nanDir, '--recipe', 'fp32', '--out', out]);
    expect(c.code, c.stderr).toBe(0);
    await expectOneLineError(['generate', out, '--prompt', 'Once'], /onnx[\\/]model\.onnx: the model's logits hold NaN/);
  });

  it('infinite weights too', async () => {
    const inf = join(work, 'inf');
    mkdirSync(inf);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(nanDir, f), join(inf, f));
    const bytes = new Uint8Array(readFileSync(join(STORIES_DIR, 'model.safetensors')));
    const emb = (await readSafetensors(bytesSource(bytes, 'model.safetensors'))).tensors.get('model.embed_tokens.weight')!;
    new Float32Array(bytes.buffer, emb.fileOffset, emb.byteLength / 4).fill(Infinity);
    writeFileSync(join(inf, 'model.safetensors'), bytes);
    await expectOneLineError(['generate', inf, '--prompt', 'Once'], /logits hold (NaN|-?Infinity)/);
    // A healthy model still generates: the check costs nothing it should not.
    const ok = await runCli(['generate', STORIES_DIR, '--prompt', 'Once', '--max-new-tokens', '4']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(splitOutput(ok.stdout).json.tokens).toBe(4);
  });
});

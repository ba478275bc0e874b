import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readSafetensors, writeSafetensors, type SafetensorsEntry } from '../../src/formats/safetensors.ts';
import { FIXTURES, STORIES_DIR } from './fixture-paths.ts';
import { runCli } from './run-cli.ts';

/**
 * Sizes in a config taken on trust (issue 10, item 3) and weights that say more than the
 * config (item 12): `num_hidden_layers: 1e9` and friends fail at once with 'bad_config' in
 * import, compress and both engines' load, before anything is allocated from them; layers
 * beyond the config are refused, other unused tensors named; BOS/EOS outside the vocabulary
 * are refused where the config enters.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-config-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const CKPT = join(FIXTURES, 'stories260K', 'stories260K.bin');
const TOK = join(FIXTURES, 'stories260K', 'tok512.bin');
// Far below what allocating from such a config would take (gigabytes): the check comes before
// any allocation. Peak memory, not time: a loaded machine makes a quick refusal slow, never big.
const EARLY_PEAK_KB = 512 * 1024;
let n = 0;

function withConfig(from: string, edit: Record<string, unknown>): string {
  const dir = join(work, `m${++n}`);
  cpSync(from, dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...edit }));
  return dir;
}

async function fails(args: string[], pattern: RegExp): Promise<void> {
  const peak = process.resourceUsage().maxRSS;
  const r = await runCli(args);
  expect(process.resourceUsage().maxRSS - peak).toBeLessThan(EARLY_PEAK_KB);
  expect(r.code, r.stdout).toBe(1);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

describe('sizes in config.json are bounded before anything is allocated', () => {
  let compressed: string;
  beforeAll(async () => {
    compressed = join(work, 'compressed');
    expect((await runCli(['compress', STORIES_DIR, '--recipe', 'int8', '--out', compressed])).code).toBe(0);
  });

  it.each([
    ['num_hidden_layers', 1e9, /field 'num_hidden_layers' is 1000000000, above the supported 1024 \[bad_config\]/],
    ['vocab_size', 1e9, /field 'vocab_size' is 1000000000, above the supported 2097152/],
    ['hidden_size', 2 ** 40, /field 'hidden_size' is 1099511627776, above the supported 65536/],
    ['intermediate_size', 1e12, /field 'intermediate_size' is 1000000000000, above the supported 262144/],
    ['max_position_embeddings', 1e15, /field 'max_position_embeddings' is 1000000000000000, above the supported 1048576/],
    ['num_hidden_layers', 1.5, /field 'num_hidden_layers' must be a positive integer, got 1\.5/],
  ])('%s = %s: import, compress, generate (both engines) and eval refuse it at once', async (field, value, pattern) => {
    const imported = withConfig(STORIES_DIR, { [field]: value });
    const out = join(work, `out${n}`);
    await fails(['import', imported, '--out', out], pattern);
    await fails(['compress', imported, '--recipe', 'int8', '--out', out], pattern);
    expect(existsSync(out)).toBe(false);
    await fails(['generate', imported, '--prompt', 'Hi'], pattern);
    await fails(['generate', withConfig(compressed, { [field]: value }), '--prompt', 'Hi'], pattern);
  });

  it('a context length whose RoPE tables would be huge is refused, though each field is in range', async () => {
    const dir = withConfig(STORIES_DIR, { max_position_embeddings: 1 << 20, head_dim: 64, num_attention_heads: 1, num_key_value_heads: 1 });
    await fails(
      ['compress', dir, '--recipe', 'int8', '--out', join(work, 'rope')],
      /field 'max_position_embeddings' \(1048576\) times the head size 64 is 67108864, above the supported 33554432/,
    );
  });

  it('BOS and EOS ids outside the vocabulary are refused where the config enters', async () => {
    await fails(
      ['generate', withConfig(STORIES_DIR, { bos_token_id: 600 }), '--prompt', 'Hi'],
      /field 'bos_token_id' \(600\) must be a token id below vocab_size \(512\) \[bad_config\]/,
    );
    await fails(
      ['generate', withConfig(compressed, { eos_token_id: [2, 9999] }), '--prompt', 'Hi'],
      /field 'eos_token_id' \(9999\) must be a token id below vocab_size/,
    );
  });

  it('a llama2.c header with absurd sizes is refused from the header alone', async () => {
    const bytes = new Uint8Array(readFileSync(CKPT));
    const header = new Int32Array(bytes.buffer, 0, 7);
    header[2] = 1_000_000; // n_layers
    const ckpt = join(work, 'huge-layers.bin');
    writeFileSync(ckpt, bytes);
    await fails(
      ['import', ckpt, '--tokenizer', TOK, '--out', join(work, 'never')],
      /huge-layers\.bin: not a valid llama2\.c checkpoint: n_layers 1000000 is out of range \[bad_file\]/,
    );
  });
});

describe('weights beyond the config (item 12)', () => {
  it('layers past num_hidden_layers are refused, naming the deepest', async () => {
    const dir = withConfig(STORIES_DIR, { num_hidden_layers: 3 });
    await fails(
      ['import', dir, '--out', join(work, 'x1')],
      /model\.safetensors: holds decoder layers up to 4 \('model\.layers\.4\.[a-z_.]+weight'\) but .*config\.json says num_hidden_layers = 3 \[bad_file\]/,
    );
    await fails(['generate', dir, '--prompt', 'Hi'], /holds decoder layers up to 4/);
  });

  it('another unused tensor (a tied model that also saved lm_head.weight) is named on stderr, and the import goes on', async () => {
    const dir = join(work, 'extra-tensor');
    cpSync(STORIES_DIR, dir, { recursive: true });
    const bytes = new Uint8Array(readFileSync(join(STORIES_DIR, 'model.safetensors')));
    const st = await readSafetensors(bytesSource(bytes, 'model.safetensors'));
    const entries: SafetensorsEntry[] = [];
    for (const t of st.tensors.values()) entries.push({ name: t.name, dtype: 'F32', shape: t.shape, data: await t.read() });
    entries.push({ name: 'lm_head.weight', dtype: 'F32', shape: [512, 64], data: new Float32Array(512 * 64) });
    writeFileSync(join(dir, 'model.safetensors'), Buffer.concat(writeSafetensors(entries)));
    const r = await runCli(['import', dir, '--out', join(work, 'extra-out')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^note: .*extra-tensor: config\.json does not use this tensor, so nothing reads it: lm_head\.weight\n$/);
  });
});

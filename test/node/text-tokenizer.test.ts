import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelFolder, type LoadedModel } from '../../src/node/model-folder.ts';
import { splitDocuments } from '../../src/runtime/perplexity.ts';
import { TextStreamDecoder } from '../../src/runtime/text-stream-decoder.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';

const MODELS = dirname(STORIES_DIR);
const fixtureText = (name: string) => readFileSync(fixtureTextPath(name), 'utf8');

let folder: LoadedModel;
let ours: TextTokenizer;
let theirs: PreTrainedTokenizer;

beforeAll(async () => {
  folder = await loadModelFolder(STORIES_DIR);
  ours = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, folder.ir.config);
  env.allowRemoteModels = false;
  env.localModelPath = `${MODELS}/`;
  theirs = await AutoTokenizer.from_pretrained('stories260K');
});

describe('TextTokenizer on stories260K agrees with transformers.js AutoTokenizer', () => {
  it('special ids come from the config', () => {
    expect(ours.bosTokenId).toBe(1);
    expect(ours.eosTokenIds).toEqual([2]);
    expect(ours.hasChatTemplate).toBe(false);
  });

  it('encodes every fixture document to the same ids, with and without BOS', () => {
    const docs = [
      ...splitDocuments(fixtureText('tinystories_sample.txt')),
      ...splitDocuments(fixtureText('tinystories_eval.txt')).slice(0, 100),
      'Ünïcödé, emoji 🍕 and 日本語 go through byte fallback.',
      '  leading and trailing spaces  ',
    ];
    let checked = 0;
    for (const doc of docs) {
      expect(ours.encode(doc, { addBos: true })).toEqual(theirs.encode(doc));
      expect(ours.encode(doc)).toEqual(theirs.encode(doc, { add_special_tokens: false }));
      checked++;
    }
    expect(checked).toBe(107);
  });

  it('decodes like transformers.js and round-trips the text', () => {
    for (const doc of splitDocuments(fixtureText('tinystories_sample.txt'))) {
      const ids = ours.encode(doc, { addBos: true });
      expect(ours.decode(ids)).toBe(theirs.decode(ids, { skip_special_tokens: true }));
      expect(ours.decode(ids)).toBe(doc);
    }
  });

  it('the empty prompt is BOS alone', () => {
    expect(ours.encode('', { addBos: true })).toEqual([1]);
  });
});

describe('TextStreamDecoder', () => {
  it('never emits half a character and adds up to the full decode', () => {
    const text = 'A pizza 🍕, a crab 🦀 and 日本語.';
    const ids = ours.encode(text);
    expect(ids.some((id) => id >= 3 && id <= 258)).toBe(true); // byte-fallback tokens are involved
    const stream = new TextStreamDecoder(ours);
    const deltas = ids.map((id) => stream.push(id));
    deltas.push(stream.flush());
    expect(deltas.every((d) => !d.includes('\uFFFD'))).toBe(true);
    expect(deltas.join('')).toBe(text);
  });
});

describe('chat templates', () => {
  const chatml =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const messages = [
    { role: 'system', content: 'You are kind.' },
    { role: 'user', content: 'Tell me a story.' },
  ];

  it('renders like transformers.js apply_chat_template', async () => {
    const config = { ...folder.tokenizerConfig, chat_template: chatml };
    const withTemplate = new TextTokenizer(folder.tokenizerJson, config, folder.ir.config);
    const reference = await AutoTokenizer.from_pretrained('stories260K');
    (reference as unknown as { chat_template: string }).chat_template = chatml;
    const expected = reference.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true });
    expect(withTemplate.hasChatTemplate).toBe(true);
    expect(withTemplate.applyChatTemplate(messages)).toBe(expected);
    expect(withTemplate.applyChatTemplate(messages)).toBe(
      '<|im_start|>system\nYou are kind.<|im_end|>\n<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('uses the bos_token variable and picks the default of named templates', () => {
    const config = {
      ...folder.tokenizerConfig,
      chat_template: [
        { name: 'tool_use', template: 'tools' },
        { name: 'default', template: '{{ bos_token }}{{ messages[0].content }}' },
      ],
    };
    expect(new TextTokenizer(folder.tokenizerJson, config).applyChatTemplate(messages)).toBe('<s>You are kind.');
  });

  it('without a template, asking for one is a clear error', () => {
    expect(() => ours.applyChatTemplate(messages)).toThrow(/no chat_template/);
  });
});

import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { parseHfConfig } from '../../../src/model/hf-config.ts';
import { ChatTemplate, type TemplateBudget } from '../../../src/runtime/chat-template.ts';
import { TextTokenizer } from '../../../src/runtime/tokenizer.ts';
import { STORIES_DIR } from '../fixture-paths.ts';
import { FUZZ_BUDGET, fuzz, mutatedJson } from './fuzz-budget.ts';

/**
 * tokenizer.json, tokenizer_config.json and chat templates, fuzzed: mutations of a real
 * tokenizer.json (any field replaced by arbitrary JSON, or removed) and arbitrary
 * tokenizer_config.json values, each then made to encode, decode and render; and templates
 * built from Jinja pieces (loops of any length, string doubling, filters with any width).
 * Each ends in a result or a ShrinkrayError within FUZZ_BUDGET; token ids stay inside the
 * model's vocabulary.
 */
const json = (file: string) => JSON.parse(readFileSync(join(STORIES_DIR, file), 'utf8')) as Record<string, unknown>;
const tokenizerJson = json('tokenizer.json');
const tokenizerConfig = json('tokenizer_config.json');
const config = parseHfConfig(json('config.json'), 'config.json');
const messages = [
  { role: 'user', content: 'Once upon a time' },
  { role: 'assistant', content: 'there was a cat' },
];

/** Builds the tokenizer, then encodes, decodes and (when it has one) renders the chat template. */
function exercise(tj: Record<string, unknown>, tc: Record<string, unknown>, text: string, ids: number[]): void {
  const t = new TextTokenizer(tj, tc, config);
  for (const id of t.encode(text, { addBos: true })) expect(id >= 0 && id < config.vocabSize).toBe(true);
  t.decode(ids);
  if (t.hasChatTemplate) t.applyChatTemplate(messages);
}

// @huggingface/tokenizers warns on the console about each unknown pattern type a mutation makes; the fuzzer wants no such noise.
beforeAll(() => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  return () => warn.mockRestore();
});

const text = fc.string({ maxLength: 16, unit: 'grapheme' });
const ids = fc.array(fc.nat({ max: 511 }), { maxLength: 8 });

describe('tokenizer.json, fuzzed', () => {
  it('mutations of a real tokenizer.json', async () => {
    await fuzz(fc.tuple(mutatedJson(tokenizerJson, 2), text, ids), 500, ([tj, t, i]) => exercise(tj, tokenizerConfig, t, i), {
      examples: [[tokenizerJson, 'Once upon a time', [1, 2, 3]]],
    });
  });

  it('any JSON as tokenizer.json', async () => {
    await fuzz(
      fc.tuple(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }), text),
      1000,
      ([tj, t]) => exercise(tj, {}, t, []),
      { expectBoth: false },
    );
  });
});

describe('tokenizer_config.json, fuzzed', () => {
  it('any values for its fields, chat_template included', async () => {
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('<s>', '</s>', '<unk>', { content: '<s>' }, { content: 5 }));
    const template = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}',
        '{{',
        '{% for %}',
        '{{ raise_exception("no") }}',
      ),
    );
    const cfg = fc.record(
      {
        bos_token: value,
        eos_token: value,
        unk_token: value,
        pad_token: value,
        chat_template: fc.oneof(
          template,
          fc.array(fc.record({ name: fc.oneof(fc.constant('default'), fc.string({ maxLength: 4 })), template }), { maxLength: 2 }),
          fc.jsonValue({ maxDepth: 1 }),
        ),
      },
      { requiredKeys: [] },
    );
    await fuzz(fc.tuple(cfg, text), 2000, ([tc, t]) => exercise(tokenizerJson, tc, t, [1, 5, 9]), {
      examples: [
        [tokenizerConfig, 'Hi'],
        // Found by this fuzzer (seed 20261201): a null in a list of named templates was read as an object (TypeError).
        [{ chat_template: [null, false, '%'] }, 'Hi'],
      ],
    });
  });
});

describe('chat templates, fuzzed', () => {
  // A small budget, so a looping template costs the fuzzer 200 ms and not the real 2 s; the code paths are the same.
  const budget: TemplateBudget = { steps: 20_000, ms: 200, chars: 100_000, items: 1000 };
  const n = fc.oneof(fc.nat({ max: 5 }), fc.constantFrom(1000, 1001, 1e6, 1e8, -1, 2 ** 53));
  const expr = fc.oneof(
    fc.constantFrom(
      'm.content',
      'm["role"]',
      'bos_token',
      'messages|length',
      'loop.index',
      '"x"',
      '1 + 2',
      'ns.s',
      'none',
      'undefined_name',
      'messages[0].content',
    ),
    n.map((k) => `${k}`),
    fc
      .tuple(fc.constantFrom('indent', 'tojson', 'trim', 'upper', 'length', 'replace("a", "bb")'), n)
      .map(([f, k]) => (f === 'indent' || f === 'tojson' ? `"a\\nb" | ${f}(${k})` : `"ab" | ${f}`)),
  );
  const template: fc.Arbitrary<string> = fc.letrec<{ t: string }>((tie) => ({
    t: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.string({ maxLength: 6 }),
      expr.map((e) => `{{ ${e} }}`),
      fc.tuple(n, tie('t')).map(([k, body]) => `{% for i in range(${k}) %}${body}{% endfor %}`),
      tie('t').map((body) => `{% for m in messages %}${body}{% endfor %}`),
      fc.tuple(expr, tie('t'), tie('t')).map(([c, a, b]) => `{% if ${c} %}${a}{% else %}${b}{% endif %}`),
      fc
        .tuple(n, tie('t'))
        .map(
          ([k, body]) =>
            `{% set ns = namespace(s="ab") %}{% for i in range(${k}) %}{% set ns.s = ns.s ~ ns.s %}${body}{% endfor %}{{ ns.s|length }}`,
        ),
      fc.tuple(tie('t'), tie('t')).map(([a, b]) => a + b),
    ),
  })).t;

  it('templates of loops, doubling strings and wide filters end within their budget', async () => {
    await fuzz(
      template,
      1500,
      (source) => new ChatTemplate(source, 'tokenizer_config.json', budget).render({ messages, bos_token: '<s>' }),
      {
        msPerInput: budget.ms + FUZZ_BUDGET.msPerInput,
        examples: [
          '{% for i in range(100000000) %}x{% endfor %}',
          '{% set r = range %}{{ r(200000000)|length }}',
          '{{ "a" | indent(300000000) }}',
          // Found by this fuzzer (seed 5, 30x runs): loops with empty bodies evaluate nothing per iteration, so they escaped the step count.
          '{% for i in range(1000) %}{% for i in range(1000) %}{% endfor %}{% endfor %}',
        ],
      },
    );
  });
});

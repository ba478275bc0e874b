import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planCompression } from '../../../src/compress/plan.ts';
import { parseRecipe } from '../../../src/compress/recipe.ts';
import { bytesSource } from '../../../src/formats/byte-source.ts';
import { readJsonSource } from '../../../src/formats/json-file.ts';
import { CONFIG_LIMITS } from '../../../src/model/config.ts';
import { parseHfConfig } from '../../../src/model/hf-config.ts';
import { requiredTensors } from '../../../src/model/hf-model.ts';
import { STORIES_DIR } from '../fixture-paths.ts';
import { fuzz, mutatedJson } from './fuzz-budget.ts';

/**
 * config.json and the recipe grammar, fuzzed: arbitrary JSON values and mutations of a
 * real config (each field replaced by arbitrary JSON, or removed) end in a ModelConfig
 * within CONFIG_LIMITS or a ShrinkrayError; arbitrary strings and step-shaped strings end in
 * a recipe (planned against the config, or refused with the step named) or a ShrinkrayError.
 */
const stories = JSON.parse(readFileSync(join(STORIES_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
const enc = new TextEncoder();

describe('config.json, fuzzed', () => {
  const parse = (json: unknown) => {
    const c = parseHfConfig(json, 'config.json');
    for (const [field, limit] of Object.entries(CONFIG_LIMITS)) expect(c[field as keyof typeof CONFIG_LIMITS]).toBeLessThanOrEqual(limit);
    requiredTensors(c); // the tensor table of any accepted config is cheap to list
  };

  it('any JSON text, through the side-file reader', async () => {
    const text = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 100 }),
    );
    await fuzz(text, 3000, async (t) => parse(await readJsonSource(bytesSource(enc.encode(t), 'config.json'))), {
      expectBoth: false,
      examples: [JSON.stringify(stories)],
    });
  });

  it('mutations of a real config', async () => {
    const sizes = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom(1e9, 2 ** 53, -1, 0, 1.5, Number.MAX_VALUE, '64', null));
    const field = fc.constantFrom(
      'hidden_size',
      'intermediate_size',
      'num_hidden_layers',
      'num_attention_heads',
      'num_key_value_heads',
      'head_dim',
      'vocab_size',
      'max_position_embeddings',
      'bos_token_id',
      'eos_token_id',
      'rope_theta',
      'rms_norm_eps',
      'architectures',
      'rope_scaling',
      'tie_word_embeddings',
    );
    const targeted = fc
      .array(fc.tuple(field, sizes), { minLength: 1, maxLength: 3 })
      .map((edits) => ({ ...stories, ...Object.fromEntries(edits) }));
    await fuzz(fc.oneof(targeted, mutatedJson(stories)), 3000, parse, { examples: [stories, { ...stories, num_hidden_layers: 1e9 }] });
  });
});

describe('recipe grammar, fuzzed', () => {
  const config = parseHfConfig(stories, 'config.json');
  const step = fc.oneof(
    fc.constantFrom(
      'fp32',
      'fp16',
      'int4',
      'int8-g32',
      'int4-g64-asym',
      'emb4',
      'emb8',
      'mag50',
      '2:4',
      '4:8',
      'ffn25',
      'heads25',
      'gptq-int4',
      'wanda50',
    ),
    fc
      .tuple(
        fc.constantFrom('int', 'mag', 'ffn', 'heads', 'emb', ''),
        fc.integer({ min: -5, max: 300 }),
        fc.constantFrom('', '-g16', '-g128', '-g7', '-asym', '%', ':8', '-g256-asym'),
      )
      .map(([a, b, c]) => `${a}${b}${c}`),
    fc.string({ maxLength: 8 }),
  );
  const recipe = fc.oneof(
    fc.array(step, { maxLength: 5 }).chain((steps) => fc.constantFrom('+', ' + ', '++', '+ ').map((sep) => steps.join(sep))),
    fc.string({ maxLength: 40 }),
    fc.string({ maxLength: 40, unit: 'grapheme' }),
  );

  it('any string: a recipe planned against the model, or a ShrinkrayError naming the step', async () => {
    await fuzz(
      recipe,
      5000,
      (text) => {
        const r = parseRecipe(text);
        expect(r.canonical).toBe(parseRecipe(r.canonical).canonical); // the canonical spelling parses to itself
        planCompression(r, config);
      },
      { examples: ['int4-g32+emb8', 'heads99', `int4+${'x'.repeat(100_000)}`] },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { parseRecipe, recipeNeedsCalibration, recipeProblems, validateRecipeForModel } from '../../src/compress/recipe.ts';
import { KNOWN_STEPS } from '../../src/compress/recipe-steps.ts';
import presets from '../../src/compress/recipe-presets.json';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { STORIES_CONFIG } from '../stories-config.ts';

/** stories260K's shape (from the fixtures README). */
const stories = STORIES_CONFIG;

describe('parseRecipe', () => {
  it('parses the documented examples', () => {
    expect(parseRecipe('int4-g32')).toEqual({
      name: 'int4-g32',
      canonical: 'int4-g32',
      structured: null,
      mask: null,
      quant: { method: 'rtn', bits: 4, blockSize: 32, symmetric: true, actOrder: false, floatTargets: false },
      embedQuant: null,
      storage: 'fp32',
      drop: null,
    });
    expect(parseRecipe('int8')).toMatchObject({ canonical: 'int8-g32', quant: { bits: 8, blockSize: 32, symmetric: true } });
    expect(parseRecipe('int4-g32+emb8')).toMatchObject({ quant: { bits: 4 }, embedQuant: { bits: 8, blockSize: 32, symmetric: true } });
    expect(parseRecipe('mag50+int4-g32')).toMatchObject({ mask: { kind: 'magnitude', sparsity: 0.5, scope: 'row' }, quant: { bits: 4 } });
    expect(parseRecipe('2:4+int8')).toMatchObject({ mask: { kind: 'nm', n: 2, m: 4 }, quant: { bits: 8 } });
    expect(parseRecipe('ffn25+int4-g64-asym')).toMatchObject({
      structured: { ffnFraction: 0.25, headsFraction: 0 },
      quant: { bits: 4, blockSize: 64, symmetric: false },
      canonical: 'ffn25+int4-g64-asym',
    });
    expect(parseRecipe('fp16')).toEqual({
      name: 'fp16',
      canonical: 'fp16',
      structured: null,
      mask: null,
      quant: null,
      embedQuant: null,
      storage: 'fp16',
      drop: null,
    });
    expect(parseRecipe('heads25+int8')).toMatchObject({ structured: { ffnFraction: 0, headsFraction: 0.25 }, quant: { bits: 8 } });
    expect(parseRecipe('fp32')).toMatchObject({ canonical: 'fp32', storage: 'fp32', quant: null });
    expect(parseRecipe('emb4')).toMatchObject({ quant: null, embedQuant: { bits: 4, blockSize: 32 } });
    expect(parseRecipe('4:8')).toMatchObject({ mask: { kind: 'nm', n: 4, m: 8 }, quant: null });
    expect(parseRecipe('int3-g32-asym')).toMatchObject({ quant: { method: 'rtn', bits: 3, symmetric: false } }); // stored in the 4-bit container
  });

  it('parses the calibrated methods: GPTQ, AWQ, Wanda, SparseGPT, and their combinations', () => {
    expect(parseRecipe('gptq-int4-g32').quant).toEqual({
      method: 'gptq',
      bits: 4,
      blockSize: 32,
      symmetric: true,
      actOrder: false,
      floatTargets: true,
    });
    expect(parseRecipe('gptq-int3-asym-act-classic')).toMatchObject({
      canonical: 'gptq-int3-g32-asym-act-classic',
      quant: { method: 'gptq', bits: 3, symmetric: false, actOrder: true, floatTargets: false },
    });
    expect(parseRecipe('awq-int4')).toMatchObject({
      canonical: 'awq-int4-g32',
      quant: { method: 'awq', actOrder: false, floatTargets: false },
    });
    expect(parseRecipe('wanda50').mask).toEqual({ kind: 'wanda', pattern: { kind: 'unstructured', sparsity: 0.5 } });
    expect(parseRecipe('wanda-2:4').mask).toEqual({ kind: 'wanda', pattern: { kind: 'nm', n: 2, m: 4 } });
    expect(parseRecipe('sparsegpt-50%').mask).toEqual({ kind: 'sparsegpt', pattern: { kind: 'unstructured', sparsity: 0.5 } });
    expect(parseRecipe('gptq-int4-g32 + wanda50 + emb8').canonical).toBe('wanda50+gptq-int4-g32+emb8');
    expect(parseRecipe('int8+sparsegpt-2:4').canonical).toBe('sparsegpt-2:4+int8-g32');
    expect(parseRecipe('ffn25+awq-int4-g64-asym').canonical).toBe('ffn25+awq-int4-g64-asym');
    for (const [text, needs] of [
      ['gptq-int4', true],
      ['awq-int4', true],
      ['wanda50', true],
      ['sparsegpt-2:4+int8', true],
      ['int4', false],
      ['mag50+2:4', false],
      ['ffn25+int8', false],
    ] as const) {
      expect(recipeNeedsCalibration(parseRecipe(text.replace('+2:4', '')))).toBe(needs);
    }
  });

  it('reorders steps into run order and accepts spacing, case and percent spellings', () => {
    const r = parseRecipe(' INT4-G128 + emb4 + mag-30% + heads50 + ffn10 + fp16 ');
    expect(r.canonical).toBe('ffn10+heads50+mag30+int4-g128+emb4+fp16');
    expect(r.structured).toEqual({ ffnFraction: 0.1, headsFraction: 0.5 });
    expect(r.mask).toEqual({ kind: 'magnitude', sparsity: 0.3, scope: 'row' });
    expect(r.embedQuant).toEqual({ bits: 4, blockSize: 128, symmetric: true }); // follows the int block size
    expect(r.storage).toBe('fp16');
    expect(parseRecipe('int8-asym+2:4').canonical).toBe('2:4+int8-g32-asym');
  });

  it('parses every preset, and each preset is already canonical', () => {
    expect(presets.length).toBeGreaterThan(5);
    for (const p of presets) expect(parseRecipe(p.recipe).canonical).toBe(p.recipe);
  });

  const cases: Array<[string, string]> = [
    ['', `recipe is empty; write steps joined by '+', e.g. int4-g32 or mag50+int8. Known steps: ${KNOWN_STEPS}`],
    ['   ', `recipe is empty; write steps joined by '+', e.g. int4-g32 or mag50+int8. Known steps: ${KNOWN_STEPS}`],
    ['int4+foo', `recipe 'int4+foo': step 'foo' is unknown. Known steps: ${KNOWN_STEPS}`],
    ['int9', `recipe 'int9': step 'int9' has bit width 9; allowed int2, int3, int4, int8`],
    ['int1', `recipe 'int1': step 'int1' has bit width 1; allowed int2, int3, int4, int8`],
    [
      'int5',
      `recipe 'int5': step 'int5' has bit width 5: onnxruntime-web's MatMulNBits runs only int2, int4, int8 (and int3 in the 4-bit container)`,
    ],
    [
      'gptq-int4-sym',
      `recipe 'gptq-int4-sym': step 'gptq-int4-sym' does not match gptq-int{2,3,4,8}[-g{16|32|64|128|256}][-asym][-act][-classic]`,
    ],
    ['awq-int4-act', `recipe 'awq-int4-act': step 'awq-int4-act' does not match awq-int{2,3,4,8}[-g{16|32|64|128|256}][-asym]`],
    [
      'gptq-int4+int8',
      `recipe 'gptq-int4+int8': steps 'gptq-int4' and 'int8' both set the weight quantization; at most one step of each kind`,
    ],
    [
      'wanda50+sparsegpt50',
      `recipe 'wanda50+sparsegpt50': steps 'wanda50' and 'sparsegpt50' both set the unstructured sparsity; at most one step of each kind`,
    ],
    ['wanda-3:2', `recipe 'wanda-3:2': step 'wanda-3:2' keeps N=3 of M=2; N must be at least 1 and less than M`],
    ['sparsegpt-2:x', `recipe 'sparsegpt-2:x': step 'sparsegpt-2:x' does not match sparsegpt-{N}:{M}, e.g. sparsegpt-2:4`],
    ['wanda0', `recipe 'wanda0': step 'wanda0' removes 0%; allowed wanda1..wanda99`],
    ['int4-g48', `recipe 'int4-g48': step 'int4-g48' has block size 48; allowed -g16, -g32, -g64, -g128, -g256`],
    ['int4-g512', `recipe 'int4-g512': step 'int4-g512' has block size 512; allowed -g16, -g32, -g64, -g128, -g256`],
    ['int4-sym', `recipe 'int4-sym': step 'int4-sym' does not match int{2,3,4,8}[-g{16|32|64|128|256}][-asym]`],
    ['int4+int8', `recipe 'int4+int8': steps 'int4' and 'int8' both set the weight quantization; at most one step of each kind`],
    ['mag50+2:4', `recipe 'mag50+2:4': steps 'mag50' and '2:4' both set the unstructured sparsity; at most one step of each kind`],
    ['fp16+fp32', `recipe 'fp16+fp32': steps 'fp16' and 'fp32' both set the weight storage type; at most one step of each kind`],
    ['emb8+emb4', `recipe 'emb8+emb4': steps 'emb8' and 'emb4' both set the embedding quantization; at most one step of each kind`],
    ['mag0', `recipe 'mag0': step 'mag0' removes 0%; allowed mag1..mag99`],
    ['mag100', `recipe 'mag100': step 'mag100' removes 100%; allowed mag1..mag99`],
    ['ffn0+int8', `recipe 'ffn0+int8': step 'ffn0' removes 0%; allowed ffn1..ffn99`],
    ['heads', `recipe 'heads': step 'heads' does not match heads{1..99}`],
    ['3:2', `recipe '3:2': step '3:2' keeps N=3 of M=2; N must be at least 1 and less than M`],
    ['0:4', `recipe '0:4': step '0:4' keeps N=0 of M=4; N must be at least 1 and less than M`],
    ['2:5', `recipe '2:5': step '2:5' has group size M=5; allowed M = 4, 8, 16`],
    ['int4++emb8', `recipe 'int4++emb8': step 2 is empty; join steps with a single '+'`],
    ['int4+', `recipe 'int4+': step 2 is empty; join steps with a single '+'`],
    ['emb2', `recipe 'emb2': step 'emb2' is not an embedding quantization; allowed emb4, emb8`],
    ['fp8', `recipe 'fp8': step 'fp8' is not a storage type; allowed fp32, fp16`],
  ];
  for (const [text, message] of cases) {
    it(`rejects '${text}' with a bad_recipe error`, () => {
      expectShrinkrayError(() => parseRecipe(text), 'bad_recipe', message);
    });
  }

  it('lists the known steps in unknown-step errors', () => {
    expect(KNOWN_STEPS).toBe(
      'fp32, fp16, int{2,3,4,8}[-g{16|32|64|128|256}][-asym], gptq-int{B}[-g{G}][-asym][-act][-classic], awq-int{B}[-g{G}][-asym], bits{2..16} (e.g. bits3.5), emb4, emb8, ' +
        'mag{1..99}, wanda{1..99}, wanda-{N}:{M}, sparsegpt{1..99}, sparsegpt-{N}:{M}, {N}:{M} (M in 4|8|16, 1 <= N < M), ffn{1..99}, heads{1..99}, ' +
        'drop{N}, drop{N}-bi, drop{N}-last, lr{1..99}[-act]',
    );
  });
});

describe('validateRecipeForModel', () => {
  it('accepts recipes that fit stories260K', () => {
    for (const text of [
      'int4-g32',
      'int8',
      'int4-g64+emb8',
      'mag50+int4-g32',
      '2:4+int8',
      'ffn25+int4-g64-asym',
      'fp16',
      'heads25+int8',
      'heads50+ffn10+int4-g32',
    ]) {
      expect(recipeProblems(parseRecipe(text), stories)).toEqual([]);
    }
  });

  it('rejects a block larger than a layer input, naming the tensor', () => {
    expectShrinkrayError(
      () => validateRecipeForModel(parseRecipe('int4-g128'), stories),
      'bad_recipe',
      `recipe 'int4-g128': block size 128 is larger than layer input size 64 (model.layers.0.self_attn.q_proj.weight)`,
    );
    expect(recipeProblems(parseRecipe('int4-g256+emb4'), stories)).toEqual([
      'block size 256 is larger than layer input size 64 (model.layers.0.self_attn.q_proj.weight)',
      'block size 256 is larger than layer input size 172 (model.layers.0.mlp.down_proj.weight)',
      'block size 256 is larger than the embedding width 64 (model.embed_tokens.weight)',
    ]);
    // Head pruning shrinks o_proj's input: 2 of 8 heads * 8 = 16 < 32.
    expect(recipeProblems(parseRecipe('heads75+int4-g32'), stories)).toEqual([
      'block size 32 is larger than layer input size 16 (model.layers.0.self_attn.o_proj.weight)',
    ]);
  });

  it('rejects N:M when an input size is not a multiple of M', () => {
    expect(recipeProblems(parseRecipe('4:8'), stories)).toEqual([
      '4:8 needs the layer input size to be a multiple of 8, but model.layers.0.mlp.down_proj.weight has 172',
    ]);
    // ffn25 leaves 129 channels: down_proj's input is no longer a multiple of 4.
    expect(recipeProblems(parseRecipe('ffn25+2:4'), stories)).toEqual([
      '2:4 needs the layer input size to be a multiple of 4, but model.layers.0.mlp.down_proj.weight has 129',
    ]);
    expect(recipeProblems(parseRecipe('ffn25+wanda-2:4'), stories)).toEqual([
      '2:4 needs the layer input size to be a multiple of 4, but model.layers.0.mlp.down_proj.weight has 129',
    ]);
  });

  it('rejects SparseGPT N:M with activation order, which would visit its groups out of order', () => {
    expect(recipeProblems(parseRecipe('sparsegpt-2:4+gptq-int4-act'), stories)).toEqual([
      'sparsegpt-2:4 chooses N:M groups of consecutive columns, which activation order (-act) visits out of order; drop -act',
    ]);
    expect(recipeProblems(parseRecipe('sparsegpt50+gptq-int4-act'), stories)).toEqual([]);
  });

  it('rejects structured pruning that removes nothing or everything', () => {
    expect(recipeProblems(parseRecipe('heads10'), stories)).toEqual([
      'heads10 removes round(10% of 4) = 0 KV groups; each of the 4 KV groups (1 KV head + 2 query heads) is 25%',
    ]);
    expect(recipeProblems(parseRecipe('heads90'), stories)).toEqual([
      'heads90 would remove every KV group (4 of 4); at least one group must remain; each of the 4 KV groups (1 KV head + 2 query heads) is 25%',
    ]);
    const tiny = { ...stories, intermediateSize: 20 };
    expect(recipeProblems(parseRecipe('ffn2'), tiny)).toEqual(['ffn2 removes round(2% of 20) = 0 FFN channels; use at least ffn3']);
    expect(recipeProblems(parseRecipe('ffn99'), tiny)).toEqual(['ffn99 would remove all 20 FFN channels; at least one must remain']);
    expectShrinkrayError(
      () => validateRecipeForModel(parseRecipe('heads90+int8'), stories),
      'bad_recipe',
      /^recipe 'heads90\+int8': heads90 would remove every KV group/,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe, recipeNeedsCalibration, recipeProblems, validateRecipeForModel } from '../../src/compress/recipe.ts';
import { KNOWN_STEPS } from '../../src/compress/recipe-steps.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { STORIES_CONFIG } from '../stories-config.ts';

/** `lr{P}[-act]` in the recipe grammar: parsing, canonical form, what it combines with, and the plan's ranks and bytes. */
const stories = STORIES_CONFIG;

describe('lr{P}[-act] in the recipe grammar', () => {
  it('parses, and writes the canonical form in run order (after masks, before int)', () => {
    expect(parseRecipe('lr60')).toMatchObject({ canonical: 'lr60', lowRank: { percent: 60, activation: false }, quant: null });
    expect(parseRecipe('INT8 + lr60-act')).toMatchObject({ canonical: 'lr60-act+int8-g32', lowRank: { percent: 60, activation: true } });
    expect(parseRecipe('fp16+lr50+int4-g16+emb8').canonical).toBe('lr50+int4-g16+emb8+fp16');
    expect(parseRecipe('lr-50%').canonical).toBe('lr50');
    expect(parseRecipe('heads25+lr75').canonical).toBe('heads25+lr75');
    expect(parseRecipe('int8')).not.toHaveProperty('lowRank');
    expect(KNOWN_STEPS).toContain('lr{1..99}[-act]');
  });

  it('only the activation-aware variant needs calibration text', () => {
    expect(recipeNeedsCalibration(parseRecipe('lr50+int8'))).toBe(false);
    expect(recipeNeedsCalibration(parseRecipe('lr50-act+int8'))).toBe(true);
  });

  it.each([
    ['lr0', /keeps 0% .*allowed lr1\.\.lr99/],
    ['lr100', /keeps 100% .*allowed lr1\.\.lr99/],
    ['lr50-asym', /does not match lr\{1\.\.99\}\[-act\]/],
    ['lr', /does not match lr\{1\.\.99\}\[-act\]/],
    ['lr50+lr60-act', /both set the low-rank factorisation/],
  ])('refuses %s', (recipe, message) => {
    expectShrinkrayError(() => parseRecipe(recipe), 'bad_recipe', message);
  });

  it.each([
    ['lr1', /lr1 leaves rank 0 for model\.layers\.0\.self_attn\.q_proj\.weight \[64, 64\].*use at least lr4/],
    ['lr50+gptq-int4', /does not combine with gptq/],
    ['lr50-act+awq-int4', /does not combine with awq/],
    ['lr50+mag50', /does not combine with a sparsity step \(magnitude\)/],
    ['lr50+wanda-2:4', /does not combine with a sparsity step \(wanda\)/],
    ['lr50+int8', /q_proj\.weight \[64, 64\] rank 16, smaller than the block size 32 of the int step.*-g16/],
    ['lr50+int8-g16', /k_proj\.weight \[32, 64\] rank 10, smaller than the block size 16 of the int step.*; use a larger P/],
  ])('refuses %s on stories260K before any work', (recipe, message) => {
    expectShrinkrayError(() => validateRecipeForModel(parseRecipe(recipe), stories), 'bad_recipe', message);
  });

  it('combines with int (blocks no larger than the rank), emb, fp16 and structured pruning', () => {
    for (const r of [
      'lr75+int8-g16',
      'lr75+int4-g16-asym+emb8',
      'lr50+fp16',
      'ffn25+lr60',
      'ffn25+lr75-act+int8-g16',
      'heads25+lr50-act',
    ]) {
      expect(recipeProblems(parseRecipe(r), stories)).toEqual([]);
    }
  });

  it("plans each linear layer's rank and the two factors' bytes", () => {
    const plan = planCompression(parseRecipe('lr75+int8-g16'), stories);
    const q = plan.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!;
    const down = plan.tensors.find((t) => t.name === 'model.layers.0.mlp.down_proj.weight')!;
    expect(q.lowRank).toEqual({ rank: 24, activation: false }); // 24 (64 + 64) = 3072 = 75% of 4096
    expect(down.lowRank).toEqual({ rank: 34, activation: false }); // 34 * 236 = 8024 <= 8256 < 35 * 236
    // int8-g16 with fp32 scales: A [24, 64] and B [64, 24] (24 padded to 2 blocks of 16), 16 codes + 4 bytes per block.
    expect(q.bytesOut).toBe((24 * 4 + 64 * 2) * 20);
    expect(plan.tensors.find((t) => t.role === 'embedding')!.lowRank).toBeUndefined();
    const plain = planCompression(parseRecipe('lr50'), stories);
    expect(plain.tensors.find((t) => t.name === q.name)!.bytesOut).toBe(16 * 128 * 4);
  });
});

import { describe, expect, it } from 'vitest';
import { planWithWidths, linearBitsPerWeight } from '../../src/compress/mixed-precision.ts';
import { matMulNBitsBytes, planCompression } from '../../src/compress/plan.ts';
import { parseRecipe, recipeNeedsCalibration, recipeProblems } from '../../src/compress/recipe.ts';
import { mixedBudget, optionBytes, optionsFor, WIDTH_MENU } from '../../src/compress/width-menu.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { rtnLinear } from '../../src/compress/linear-quant.ts';
import { randomFloats } from '../seeded-random.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { STORIES_CONFIG } from '../stories-config.ts';

/** stories260K's shape: 5 blocks of dim 64, FFN 172 (down's K pads to whole blocks). */
const stories = STORIES_CONFIG;

describe('the bits{X} step', () => {
  it('parses decimals, needs calibration, and spells itself canonically', () => {
    expect(parseRecipe('bits3.5')).toMatchObject({ canonical: 'bits3.5', quant: null, mixed: { bitsPerWeight: 3.5 } });
    expect(parseRecipe(' BITS5 + emb8 ')).toMatchObject({
      canonical: 'bits5+emb8',
      mixed: { bitsPerWeight: 5 },
      embedQuant: { bits: 8, blockSize: 32 },
    });
    expect(parseRecipe('fp16+bits4.50').canonical).toBe('bits4.5+fp16');
    expect(recipeNeedsCalibration(parseRecipe('bits4'))).toBe(true);
  });

  it('refuses malformed widths, a second weight quantization, and pruning beside it, naming the step', () => {
    expectShrinkrayError(() => parseRecipe('bits'), 'bad_recipe', /step 'bits' does not match bits\{X\}/);
    expectShrinkrayError(() => parseRecipe('bits1.5'), 'bad_recipe', /step 'bits1.5' asks for 1.5 bits per weight; allowed bits2..bits16/);
    expectShrinkrayError(() => parseRecipe('bits17'), 'bad_recipe', /allowed bits2..bits16/);
    expectShrinkrayError(() => parseRecipe('bits4+int4'), 'bad_recipe', /steps 'bits4' and 'int4' both set the weight quantization/);
    expectShrinkrayError(() => parseRecipe('gptq-int4+bits4'), 'bad_recipe', /both set the weight quantization/);
    expect(recipeProblems(parseRecipe('ffn25+bits4'), stories).join()).toMatch(
      /bits4 chooses widths for the model's own matrices; it does not combine with pruning steps/,
    );
    expect(recipeProblems(parseRecipe('mag50+bits4'), stories)).toHaveLength(1);
  });

  it('refuses a budget below the narrowest widths, saying the least that fits', () => {
    const { least, weights } = mixedBudget({ bitsPerWeight: 2 }, stories);
    const min = (8 * least) / weights; // int2-g64-asym everywhere (down pads 172 to 192 inputs)
    expect(min).toBeGreaterThan(2.5);
    expect(recipeProblems(parseRecipe('bits2.5'), stories).join()).toMatch(new RegExp(`use at least bits${Math.ceil(min * 100) / 100}`));
    expect(recipeProblems(parseRecipe(`bits${Math.ceil(min * 100) / 100}`), stories)).toEqual([]);
  });

  it('budgets every stored byte: int4-g32 is 5 bits per weight, as MatMulNBits stores it', async () => {
    const quantizer = await createRtnQuantizer();
    for (const [N, K] of [
      [64, 64],
      [64, 172],
    ] as const) {
      const w = randomFloats(N * K, N + K);
      for (const o of optionsFor(K)) {
        if (!o.quant) {
          expect(optionBytes(N, K, o)).toBe(N * K * 2);
          continue;
        }
        const q = await rtnLinear(w, N, K, o.quant, quantizer, o.label);
        expect(optionBytes(N, K, o)).toBe(q.bytes);
        expect(optionBytes(N, K, o)).toBe(matMulNBitsBytes(N, K, o.quant, 4).total);
      }
    }
    expect(optionsFor(64).map((o) => o.label)).not.toContain('int4-g128');
    expect(
      (8 *
        optionBytes(
          64,
          64,
          WIDTH_MENU.find((o) => o.label === 'int4-g32')!,
        )) /
        (64 * 64),
    ).toBe(5);
  });

  it('plans a share of the budget per matrix, then the chosen widths exactly', () => {
    const plan = planCompression(parseRecipe('bits4'), stories);
    expect(plan.calibrate).toBe(true);
    const budget = mixedBudget({ bitsPerWeight: 4 }, stories).budget;
    const linear = plan.tensors.filter((t) => t.role === 'linear');
    expect(Math.abs(linear.reduce((s, t) => s + t.bytesOut, 0) - budget)).toBeLessThan(linear.length);
    const fp16 = WIDTH_MENU.find((o) => !o.quant)!;
    const int2 = WIDTH_MENU.find((o) => o.label === 'int2-g32-asym')!;
    const chosen = planWithWidths(plan, new Map(linear.map((t, i) => [t.name, i % 2 ? fp16 : int2])));
    expect(chosen.calibrate).toBe(false);
    const rows = chosen.tensors.filter((t) => t.role === 'linear');
    expect(rows.filter((t) => t.dtype === 'fp16' && t.quant === null)).toHaveLength(Math.floor(linear.length / 2));
    expect(rows.filter((t) => t.quant?.bits === 2 && !t.quant.symmetric && t.quant.blockSize === 32)).toHaveLength(
      Math.ceil(linear.length / 2),
    );
    expect(linearBitsPerWeight(chosen)).toBeGreaterThan(3);
    expectShrinkrayError(
      () => planWithWidths(plan, new Map()),
      'bad_argument',
      /no width chosen for linear tensor 'model.layers.0.self_attn.q_proj.weight'/,
    );
  });
});

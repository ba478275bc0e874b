import { describe, expect, it } from 'vitest';
import { chooseWidths, chooseWidthsExhaustive, type KnapsackItem } from '../../src/kernels/width-knapsack.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { createRng } from '../seeded-random.ts';

/**
 * The mixed-precision knapsack against every combination, on small random instances shaped
 * like the real one: cheaper options have larger errors (2, 4, 8 bits, fp16), and the items
 * differ in size and in sensitivity.
 */
function instance(seed: number, items: number): KnapsackItem[] {
  const r = createRng(seed);
  return Array.from({ length: items }, () => {
    const size = 16 * (1 + Math.floor(r() * 8)); // a matrix of `size` weight blocks
    const sensitivity = 0.1 + r() * 10;
    const costs = [3, 5, 9, 16].map((bitsPerWeight) => (size * bitsPerWeight * 32) / 8);
    // error falls about 4x per added bit, with noise, as round-to-nearest's does
    const errors = [2, 4, 8, 16].map((bits) => sensitivity * size * 4 ** -bits * (0.5 + r()));
    return { costs, errors };
  });
}

describe('chooseWidths (multiple-choice knapsack)', () => {
  it('finds the exhaustive optimum on 200 random instances at budgets from the cheapest to the dearest', () => {
    let checked = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const items = instance(seed, 2 + (seed % 5)); // 2..6 items, up to 4^6 combinations
      const least = items.reduce((s, it) => s + Math.min(...it.costs), 0);
      const most = items.reduce((s, it) => s + Math.max(...it.costs), 0);
      for (const f of [0, 0.2, 0.5, 0.9]) {
        const budget = Math.round(least + f * (most - least));
        const dp = chooseWidths(items, budget);
        const ex = chooseWidthsExhaustive(items, budget)!;
        expect(dp.unit).toBeGreaterThan(1); // the extra costs' common divisor: an exact grid
        expect(dp.cost).toBeLessThanOrEqual(budget);
        expect(dp.error).toBeCloseTo(ex.error, 12);
        // the reported totals are those of the reported choice
        expect(dp.cost).toBe(items.reduce((s, it, i) => s + it.costs[dp.choice[i]!]!, 0));
        checked++;
      }
    }
    expect(checked).toBe(200);
  });

  it('on a coarse grid never goes over budget and stays near the optimum', () => {
    for (let seed = 100; seed < 120; seed++) {
      const items = instance(seed, 6);
      const least = items.reduce((s, it) => s + Math.min(...it.costs), 0);
      const budget = least + 8000 + seed; // about a third of the way up; not a multiple of the costs' divisor (128)
      const coarse = chooseWidths(items, budget, 16); // 16 cells over the budget left after the cheapest options
      const ex = chooseWidthsExhaustive(items, budget)!;
      expect(coarse.unit).toBe(Math.ceil((budget - least) / 16));
      expect(coarse.cost).toBeLessThanOrEqual(budget);
      expect(coarse.error).toBeGreaterThanOrEqual(ex.error - 1e-12);
      // the exact optimum within budget minus one unit per item is reachable on the grid
      const shrunk = chooseWidthsExhaustive(items, budget - items.length * coarse.unit);
      if (shrunk) expect(coarse.error).toBeLessThanOrEqual(shrunk.error + 1e-12);
    }
  });

  it('spends the budget where the error falls most: the sensitive matrix gets the bits', () => {
    const items: KnapsackItem[] = [
      { costs: [10, 20], errors: [1, 0.5] }, // insensitive
      { costs: [10, 20], errors: [100, 1] }, // sensitive
    ];
    expect(Array.from(chooseWidths(items, 30).choice)).toEqual([0, 1]);
    expect(Array.from(chooseWidths(items, 40).choice)).toEqual([1, 1]);
    expect(Array.from(chooseWidths(items, 20).choice)).toEqual([0, 0]);
  });

  it('refuses a budget below the cheapest choice and malformed items, naming them', () => {
    const items: KnapsackItem[] = [{ costs: [10, 20], errors: [1, 0] }];
    expectShrinkrayError(
      () => chooseWidths(items, 9),
      'bad_argument',
      /no choice fits 9 bytes: the cheapest options of the 1 items take 10/,
    );
    expectShrinkrayError(() => chooseWidths([{ costs: [1, 2], errors: [0] }], 9), 'bad_argument', /item 0 has 2 costs and 1 errors/);
    expectShrinkrayError(() => chooseWidths([{ costs: [1.5], errors: [0] }], 9), 'bad_argument', /item 0 option 0: cost 1.5/);
    expectShrinkrayError(() => chooseWidths([{ costs: [1], errors: [NaN] }], 9), 'bad_argument', /item 0 option 0: error NaN/);
  });
});

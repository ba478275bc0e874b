import { ShrinkrayError } from '../errors.ts';

/**
 * The multiple-choice knapsack of mixed precision: each item (a matrix) takes exactly one of
 * its options (a width), each with a cost in bytes and an error; choose one option per item
 * so the total error is least and the total cost is at most the budget.
 *
 * Exact dynamic programming over a grid of cost units. Each item's cheapest option is paid
 * up front; the grid spans what is left of the budget, and each option costs its extra bytes
 * over the item's cheapest, rounded UP to whole units, so a choice that fits in rounded units
 * also fits in bytes, and the all-cheapest choice always fits. The unit is the greatest
 * common divisor of the extra costs (then the result is the exact optimum), unless that grid
 * would exceed `maxCells`; then the unit grows to ceil(extra budget / maxCells) and the result
 * is the optimum of the rounded problem: never over budget, and at least as good as the exact
 * optimum of a budget one unit per item smaller.
 *
 * Memory: cells × items bytes for the choices (Uint8: at most 255 options per item), and two
 * Float64Array(cells) rows. Ties keep the earlier option, so the answer is deterministic.
 */
export interface KnapsackItem {
  costs: readonly number[]; // bytes of each option (non-negative integers)
  errors: readonly number[]; // error of each option (finite, the same length)
}

export interface KnapsackChoice {
  choice: Int32Array; // [items] index of the option chosen for each item
  cost: number; // total bytes of the choice (exact, not rounded)
  error: number; // total error of the choice
  unit: number; // bytes per grid cell (1 unit = exact when it divides every cost)
}

export const DEFAULT_MAX_CELLS = 1 << 16;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Checks the instance and returns the grid unit for the extra costs over each item's cheapest option. */
function gridUnit(items: readonly KnapsackItem[], extraBudget: number, maxCells: number): number {
  let g = 0;
  items.forEach((it, i) => {
    if (it.costs.length === 0 || it.costs.length !== it.errors.length || it.costs.length > 255) {
      throw new ShrinkrayError(
        'bad_argument',
        `knapsack item ${i} has ${it.costs.length} costs and ${it.errors.length} errors; expected the same number, 1..255`,
      );
    }
    it.costs.forEach((c, j) => {
      if (!(Number.isInteger(c) && c >= 0))
        throw new ShrinkrayError('bad_argument', `knapsack item ${i} option ${j}: cost ${c} is not a whole number ≥ 0`);
      if (!Number.isFinite(it.errors[j]!))
        throw new ShrinkrayError('bad_argument', `knapsack item ${i} option ${j}: error ${it.errors[j]} is not finite`);
    });
    const least = Math.min(...it.costs);
    for (const c of it.costs) g = gcd(g, c - least);
  });
  const unit = Math.max(g, 1);
  return Math.floor(extraBudget / unit) > maxCells ? Math.ceil(extraBudget / maxCells) : unit;
}

/** The least-error choice within `budget` bytes; throws ShrinkrayError('bad_argument') when even the cheapest options do not fit. */
export function chooseWidths(items: readonly KnapsackItem[], budget: number, maxCells = DEFAULT_MAX_CELLS): KnapsackChoice {
  const least = items.reduce((s, it) => s + Math.min(...it.costs), 0);
  const unit = gridUnit(items, Math.max(budget - least, 0), maxCells);
  if (budget < least) {
    throw new ShrinkrayError(
      'bad_argument',
      `no choice fits ${budget} bytes: the cheapest options of the ${items.length} items take ${least}`,
    );
  }
  const cells = Math.floor((budget - least) / unit) + 1; // dp index: rounded extra cost 0..cells-1
  const steps = items.map((it) => {
    const cheapest = Math.min(...it.costs);
    return it.costs.map((c) => Math.ceil((c - cheapest) / unit));
  });
  let best = new Float64Array(cells).fill(Infinity); // least error at exactly this rounded cost
  let next = new Float64Array(cells);
  best[0] = 0;
  const choices = new Uint8Array(items.length * cells); // [items, cells] option taken to reach the cell
  items.forEach((it, i) => {
    next.fill(Infinity);
    const row = i * cells;
    for (let j = 0; j < it.costs.length; j++) {
      const step = steps[i]![j]!;
      const err = it.errors[j]!;
      for (let c = step; c < cells; c++) {
        const e = best[c - step]! + err;
        if (e < next[c]!) {
          next[c] = e;
          choices[row + c] = j;
        }
      }
    }
    [best, next] = [next, best];
  });
  let end = -1;
  for (let c = 0; c < cells; c++) if (best[c]! < Infinity && (end < 0 || best[c]! < best[end]!)) end = c;
  if (end < 0) throw new ShrinkrayError('bad_argument', `the knapsack found no choice within ${budget} bytes`); // unreachable: all-cheapest fits
  const choice = new Int32Array(items.length);
  let cost = 0;
  let error = 0;
  for (let i = items.length - 1, c = end; i >= 0; i--) {
    const j = choices[i * cells + c]!;
    choice[i] = j;
    cost += items[i]!.costs[j]!;
    error += items[i]!.errors[j]!;
    c -= steps[i]![j]!;
  }
  return { choice, cost, error, unit };
}

/** Every combination tried: the reference the DP is tested against on small instances. */
export function chooseWidthsExhaustive(
  items: readonly KnapsackItem[],
  budget: number,
): { choice: Int32Array; cost: number; error: number } | null {
  let best: { choice: Int32Array; cost: number; error: number } | null = null;
  const pick = new Int32Array(items.length);
  const walk = (i: number, cost: number, error: number): void => {
    if (cost > budget) return;
    if (i === items.length) {
      if (!best || error < best.error) best = { choice: Int32Array.from(pick), cost, error };
      return;
    }
    for (let j = 0; j < items[i]!.costs.length; j++) {
      pick[i] = j;
      walk(i + 1, cost + items[i]!.costs[j]!, error + items[i]!.errors[j]!);
    }
  };
  walk(0, 0, 0);
  return best;
}

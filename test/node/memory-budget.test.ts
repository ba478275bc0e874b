import { describe, expect, it } from 'vitest';
import {
  BASELINE_BYTES,
  compressPeakBytes,
  compressRefusal,
  CONSTRAINED_RECIPE,
  DEFAULT_RECIPE,
  defaultRecipe,
  memoryBudget,
} from '../../src/ui/memory-budget.ts';
import { checkRecipe } from '../../src/worker/recipe-check.ts';

const GiB = 1024 ** 3;
const MB = 1024 ** 2;

/**
 * The memory budget a tab gets from what the browser declares, and the refusal of a job
 * whose estimated peak does not fit it (src/ui/memory-budget.ts).
 */
describe('memory budget', () => {
  it('draws no limit where the browser declares nothing, or declares 8 GB (the cap: at least 8)', () => {
    expect(memoryBudget({ ios: false })).toMatchObject({ bytes: null, constrained: false });
    expect(memoryBudget({ deviceMemoryGB: 8, ios: false })).toMatchObject({ bytes: null, constrained: false });
    expect(compressRefusal(100 * GiB, memoryBudget({ ios: false }))).toBeNull();
  });

  it('takes three quarters of a declared smaller device memory, and the iOS tab ceiling where it is lower', () => {
    expect(memoryBudget({ deviceMemoryGB: 4, ios: false })).toMatchObject({ bytes: 3 * GiB, constrained: true });
    expect(memoryBudget({ deviceMemoryGB: 0.5, ios: false }).source).toBe('navigator.deviceMemory 0.5 GB × 0.75');
    const ios = memoryBudget({ ios: true });
    expect(ios.bytes).toBe(1.5 * GiB);
    expect(ios.source).toMatch(/iOS/);
    expect(memoryBudget({ deviceMemoryGB: 1, ios: true }).bytes).toBe(0.75 * GiB);
  });

  it('starts constrained devices on the smallest preset', () => {
    expect(defaultRecipe(memoryBudget({ ios: false }))).toBe(DEFAULT_RECIPE);
    expect(defaultRecipe(memoryBudget({ ios: true }))).toBe(CONSTRAINED_RECIPE);
    expect(checkRecipe(CONSTRAINED_RECIPE).ok).toBe(true);
  });

  it('refuses before a compression whose peak exceeds the budget, naming the numbers', () => {
    // README's 1.1B measurement: a 2,202 MB bf16 checkpoint peaked at 4,073 MB; the estimate stays above it.
    expect(compressPeakBytes(2202 * MB)).toBeGreaterThan(4073 * MB);
    expect(compressPeakBytes(2202 * MB)).toBe(2 * 2202 * MB + BASELINE_BYTES);
    const ios = memoryBudget({ ios: true });
    expect(compressRefusal(500 * MB, ios)).toBeNull(); // 1,256 MB fits 1,536 MB
    expect(compressRefusal(2202 * MB, ios)).toBe(
      "This job needs about 4,660 MB at its peak (twice the model's 2,202 MB plus 256 MB for the app), more than this tab's memory " +
        'budget of 1,536 MB (the per-tab ceiling WebKit enforces on iOS, about 1.5 GB). Choose a smaller model, or open Shrinkray on a device with more memory.',
    );
    // The 1 MB demo does not fit a 0.25 GB device (192 MB), and fits a 0.5 GB one (384 MB).
    expect(compressRefusal(1_044_984, memoryBudget({ deviceMemoryGB: 0.25, ios: false }))).toMatch(/about 258 MB .* 192 MB/);
    expect(compressRefusal(1_044_984, memoryBudget({ deviceMemoryGB: 0.5, ios: false }))).toBeNull();
  });
});

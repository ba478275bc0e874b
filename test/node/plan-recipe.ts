import { planCompression, type CompressionPlan } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import type { ModelConfig } from '../../src/model/config.ts';

/** A recipe's plan for a config, as the CLI and the compress worker make it before compressModel. */
export function plan(recipe: string, config: ModelConfig): CompressionPlan {
  return planCompression(parseRecipe(recipe), config);
}

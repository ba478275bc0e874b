import { planCompression } from '../compress/plan.ts';
import presets from '../compress/recipe-presets.json';
import { parseRecipe, recipeProblems } from '../compress/recipe.ts';
import { isShrinkrayError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';

/**
 * Recipe checks the page runs as the user types: pure functions over the recipe text and
 * the chosen model's config (no weights), re-exported by client.ts so the UI needs no
 * other import. The compress worker runs the same checks again before any work.
 */
export interface RecipePreset {
  recipe: string;
  label: string;
  /** The one-line trade-off. */
  description: string;
}

export const RECIPE_PRESETS: readonly RecipePreset[] = Object.freeze(presets as RecipePreset[]);

export type RecipeCheck = { ok: true; canonical: string; bytesIn?: number; bytesOut?: number } | { ok: false; error: string };

/** Parses `text` and, with a config, checks it against the model and estimates the output size. */
export function checkRecipe(text: string, config?: ModelConfig): RecipeCheck {
  try {
    const recipe = parseRecipe(text);
    if (!config) return { ok: true, canonical: recipe.canonical };
    const problems = recipeProblems(recipe, config);
    if (problems.length > 0) return { ok: false, error: `recipe '${recipe.name}': ${problems.join('; ')}` };
    const plan = planCompression(recipe, config);
    return { ok: true, canonical: recipe.canonical, bytesIn: plan.bytesIn, bytesOut: plan.bytesOut };
  } catch (e) {
    if (isShrinkrayError(e)) return { ok: false, error: e.message };
    throw e;
  }
}

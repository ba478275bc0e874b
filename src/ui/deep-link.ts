import { parseRepoIdSafe } from './repo-id.ts';
import { useDemo } from './demo-card.tsx';
import { repoInput, runPreflight } from './hub-card.tsx';
import { chooseSource, hubUrl, models, recipeText, showTab } from './state.ts';
import { openModelUrl } from './url-model.ts';
import { isModelUrl } from '../worker/client.ts';

/**
 * `?model=<repo or demo>&recipe=<recipe>[&hub=<mirror>]` opens the page with both chosen, so
 * one URL shows the whole thing to an audience. The demo is stored at once (it comes from
 * this site); a hub model is only checked (files, sizes, quota): downloading stays a click.
 * `?model=https://…/folder/` is a share link to a compressed model (url-model.ts): checked,
 * stored and opened in chat.
 */
export async function applyDeepLink(params = new URLSearchParams(location.search)): Promise<void> {
  const recipe = params.get('recipe');
  if (recipe) recipeText.value = recipe;
  const hub = params.get('hub');
  if (hub) hubUrl.value = hub; // for this visit only; the saved setting stays
  const model = params.get('model')?.trim();
  if (!model) return;
  if (isModelUrl(model)) {
    await openModelUrl(model);
    return;
  }
  if (model === 'demo') {
    await useDemo('shrink');
    return;
  }
  const stored = models.value.find((m) => m.id === model || m.id === `hub:${model}@main`);
  if (stored) {
    await chooseSource(stored.id, 'shrink');
    return;
  }
  const repo = parseRepoIdSafe(model);
  showTab('model');
  repoInput.value = model;
  if (repo) await runPreflight(repo);
}

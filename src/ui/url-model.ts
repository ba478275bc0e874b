import { modelFolderUrl, urlModelId, urlModelName } from '../worker/client.ts';
import { runJob } from './jobs.ts';
import { chatModelId, compressor, modelStored, models, showTab } from './state.ts';

/**
 * `?model=https://…/folder/`: a compressed model folder served anywhere with CORS. The worker
 * checks its files, sizes and the quota before fetching a weight byte, stores it, and the chat
 * screen opens with it loading: no other click. A folder already stored opens at once.
 * Progress and refusals show on the model screen (JobView 'link').
 */
export async function openModelUrl(link: string): Promise<void> {
  let folder = link;
  try {
    folder = modelFolderUrl(link);
  } catch {
    // The worker refuses it with the reason, shown like any other refusal.
  }
  const id = urlModelId(folder);
  if (!models.value.some((m) => m.id === id)) {
    showTab('model');
    const info = await runJob('link', `Opening the shared model ${urlModelName(folder)}`, ({ signal, onProgress }) =>
      compressor.importModelUrl(folder, { signal, onProgress }),
    );
    if (!info) return;
    await modelStored();
  }
  chatModelId.value = id;
  showTab('chat');
}

/** This page's address without query or fragment (a sub-path kept), with `?model=` naming `model`. */
export function shareLinkFor(model: string): string {
  const page = new URL(location.href);
  page.search = '';
  page.hash = '';
  return `${page.href}?model=${encodeURIComponent(model)}`;
}

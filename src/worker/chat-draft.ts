import { checkDraftFits } from '../runtime/draft-check.ts';
import type { ModelStore } from '../store/store-types.ts';
import { loadChatModel, type ChatModel } from './chat-model.ts';
import type { LoadOptions, ProgressCallback } from './protocol.ts';
import { getManifest, storedFileOpener } from './stored-model.ts';

/**
 * The draft of "original, drafted by the compressed model": a second stored model, loaded on the
 * same device as the original, whose tokenizer files must be the original's (checkDraftFits
 * names both models and what differs). The worker then holds two engines; it frees the draft
 * when this check fails.
 */
export async function loadDraftModel(
  store: ModelStore,
  original: ChatModel,
  draftId: string,
  options: LoadOptions,
  onProgress?: ProgressCallback,
): Promise<ChatModel> {
  const draft = await loadChatModel(store, draftId, { ...options, draft: undefined }, onProgress);
  try {
    const [a, b] = await Promise.all([getManifest(store, original.info.id), getManifest(store, draftId)]);
    await checkDraftFits(
      { where: `model '${original.info.id}'`, open: storedFileOpener(store, a), config: original.lm.config },
      { where: `model '${draftId}'`, open: storedFileOpener(store, b), config: draft.lm.config },
    );
    return draft;
  } catch (e) {
    await draft.lm.dispose();
    throw e;
  }
}

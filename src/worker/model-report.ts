import { parseHfConfig } from '../model/hf-config.ts';
import type { ModelConfig } from '../model/config.ts';
import { readJsonSource } from '../formats/json-file.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import type { ModelManifest } from '../store/manifest.ts';
import type { ModelStore } from '../store/store-types.ts';
import { ModelWriter } from './model-writer.ts';
import type { ModelEvaluation } from './protocol.ts';
import { getManifest, storedFileOpener } from './stored-model.ts';

/**
 * What the page asks about one stored model beyond its manifest: its parsed config (for
 * recipe checks as the user types), and the evaluation that joins a compressed model's
 * report once both models have been measured.
 */
export async function storedModelConfig(store: ModelStore, modelId: string): Promise<ModelConfig> {
  const manifest = await getManifest(store, modelId);
  const src = await store.openModelFile(modelId, MODEL_FILES.config);
  return parseHfConfig(await readJsonSource(src), `${manifest.id}/${MODEL_FILES.config}`);
}

/** Rewrites shrinkray.json with the evaluation added and commits the manifest again (same id, same other files). */
export async function saveEvaluation(store: ModelStore, modelId: string, evaluation: ModelEvaluation): Promise<ModelManifest> {
  const manifest = await getManifest(store, modelId);
  const src = await storedFileOpener(store, manifest)(MODEL_FILES.report);
  const stored = src ? await readJsonSource(src) : (manifest.report ?? {});
  const report = { ...stored, evaluation };
  const writer = new ModelWriter(store, modelId);
  try {
    await writer.writeJson(MODEL_FILES.report, report);
    const written = writer.files[0]!;
    const files = [...manifest.files.filter((f) => f.path !== MODEL_FILES.report), written];
    const next: ModelManifest = { ...manifest, files, report };
    await store.commitModel(next);
    return next;
  } catch (e) {
    await writer.discard();
    throw e;
  }
}

import { compressModel } from '../compress/pipeline.ts';
import { planCompression } from '../compress/plan.ts';
import { parseRecipe } from '../compress/recipe.ts';
import { compressionReport } from '../compress/report.ts';
import { keptBlockFields } from '../compress/drop/drop-blocks.ts';
import { CARRIED_FILES, MODEL_FILES, onnxDataPath } from '../formats/model-folder-layout.ts';
import { transformersJsConfig } from '../formats/transformers-js-folder.ts';
import type { Pruner } from '../kernels/prune/index.ts';
import type { RtnQuantizer } from '../kernels/quantize/index.ts';
import { toHfConfig } from '../model/hf-config.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { checkQuota } from '../store/quota.ts';
import type { ModelStore } from '../store/store-types.ts';
import { throwIfAborted } from './cancel.ts';
import { ModelWriter } from './model-writer.ts';
import { ShrinkrayError } from '../errors.ts';
import { workerCalibration } from './calibration-input.ts';
import type { CalibrationRequest, ProgressCallback } from './protocol.ts';
import { openStoredHfModel, storedFileOpener } from './stored-model.ts';
import { compressProgress } from './tensor-places.ts';

/**
 * One compression, store to store: open the stored model lazily, check the recipe and the
 * quota before any work, run the streaming pipeline (one source tensor decoded at a time),
 * then write onnx/model.onnx (+ model.onnx_data), the carried tokenizer files, config.json
 * and shrinkray.json, and commit them as one new model. A cancel or a failure leaves
 * nothing visible and discards what was staged.
 */
export interface CompressJobOptions {
  store: ModelStore;
  quantizer: RtnQuantizer;
  pruner?: Pruner; // default: the scalar reference (bit-identical masks)
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Weights go to onnx/model.onnx_data above this many bytes (default 16 MiB): no second copy of them when encoding. */
  externalDataThreshold?: number;
  /** Calibration text: required by GPTQ, AWQ, Wanda and SparseGPT; makes ffn/heads activation-aware. */
  calibration?: CalibrationRequest;
}

/** The id a compressed model gets: the source id and the canonical recipe. */
export function compressedModelId(sourceId: string, canonicalRecipe: string): string {
  return `compressed:${sourceId}:${canonicalRecipe}`;
}

export async function runCompressJob(modelId: string, recipeText: string, o: CompressJobOptions): Promise<ModelManifest> {
  const started = performance.now();
  const recipe = parseRecipe(recipeText); // a typo fails before the store is touched
  const source = await openStoredHfModel(o.store, modelId);
  const plan = planCompression(recipe, source.ir.config, { calibrationText: o.calibration !== undefined }); // every recipe check, before any work
  if (plan.calibrate && !o.calibration) {
    throw new ShrinkrayError(
      'bad_argument',
      `recipe '${recipe.name}' calibrates on text: send calibration text with it (the built-in English sample will do)`,
    );
  }
  const carried = source.manifest.files.filter((f) => CARRIED_FILES.includes(f.path));
  const carriedBytes = carried.reduce((s, f) => s + f.size, 0);
  await checkQuota(plan.bytesOut + carriedBytes, `the ${recipe.canonical} compression of ${modelId}`);
  throwIfAborted(o.signal, `compressing ${modelId}`);

  const ops = 'plain';
  const calibration = plan.calibrate ? await workerCalibration(o.store, source.manifest, source.ir.config, o.calibration!) : null;
  const result = await compressModel(source.ir, plan, {
    calibration: calibration?.input,
    quantizer: o.quantizer,
    pruner: o.pruner,
    ops,
    signal: o.signal,
    externalDataThreshold: o.externalDataThreshold ?? 16 * 1024 * 1024,
    onProgress: (p) => o.onProgress?.(compressProgress(p)),
  });
  const compressSeconds = (performance.now() - started) / 1000;
  const writeStarted = performance.now();
  const { built } = result;
  const bytesOut = built.model.byteLength + (built.externalData?.byteLength ?? 0);

  const id = compressedModelId(modelId, recipe.canonical);
  const totalWrite = bytesOut + carriedBytes;
  let written = 0;
  const writer = new ModelWriter(o.store, id, o.signal, (n) => {
    written += n;
    o.onProgress?.({ stage: 'write', done: written, total: totalWrite });
  });
  try {
    await writer.write(MODEL_FILES.onnxModel, built.model);
    if (built.externalData) await writer.write(onnxDataPath(built.externalData.location), built.externalData.chunks);
    const open = storedFileOpener(o.store, source.manifest);
    for (const f of carried) await writer.copy(f.path, (await open(f.path))!);
    await writer.writeJson(
      MODEL_FILES.config,
      transformersJsConfig(
        { ...source.configJson, ...toHfConfig(result.config), ...keptBlockFields(source.configJson, result.layerRemoval) },
        built.externalData !== null,
      ),
    );
    const report = compressionReport({
      result,
      recipeText: recipe.name,
      from: modelId,
      bytesIn: source.weightBytes,
      ops,
      quantizer: o.quantizer.backend,
      pruner: result.pruner,
      seconds: (performance.now() - started) / 1000,
      compressSeconds,
      reads: { seconds: source.reads.ms / 1000, bytes: source.reads.bytes },
      writeSeconds: (performance.now() - writeStarted) / 1000,
      calibrationText: calibration?.text,
    });
    await writer.writeJson(MODEL_FILES.report, report);
    return await writer.commit({ source: { kind: 'compressed', from: modelId }, recipe: recipe.canonical, report: { ...report } });
  } catch (e) {
    await writer.discard();
    throw e;
  }
}

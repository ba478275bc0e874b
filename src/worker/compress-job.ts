import { parseRecipe } from '../compress/recipe.ts';
import { ShrinkrayError } from '../errors.ts';
import { writeCompressedFolder, type CompressedFolderSink } from '../jobs/write-compressed-folder.ts';
import type { Pruner } from '../kernels/prune/index.ts';
import type { RtnQuantizer } from '../kernels/quantize/index.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { checkQuota } from '../store/quota.ts';
import type { ModelStore } from '../store/store-types.ts';
import { workerCalibration } from './calibration-input.ts';
import { throwIfAborted } from './cancel.ts';
import { ModelWriter } from './model-writer.ts';
import type { CalibrationRequest, ProgressCallback } from './protocol.ts';
import { openStoredHfModel, storedFileOpener } from './stored-model.ts';
import { compressProgress } from './tensor-places.ts';
import type { WatchdogMessage } from './tokenizer-watchdog.ts';

/**
 * One compression, store to store: the stored model opened lazily, the folder written by the
 * job the CLI runs too (jobs/write-compressed-folder.ts) into a ModelWriter, which stages the
 * files and commits them as one new model. The recipe and the quota are checked before any
 * work; a cancel or a failure leaves nothing visible and discards what was staged.
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
  /** Reports each calibration tokenizer call to the page's watchdog (the worker's postMessage: tokenizer-watchdog.ts). */
  announce?: (m: WatchdogMessage) => void;
}

/** The id a compressed model gets: the source id and the canonical recipe. */
export function compressedModelId(sourceId: string, canonicalRecipe: string): string {
  return `compressed:${sourceId}:${canonicalRecipe}`;
}

export async function runCompressJob(modelId: string, recipeText: string, o: CompressJobOptions): Promise<ModelManifest> {
  const recipe = parseRecipe(recipeText); // a typo fails before the store is touched
  const source = await openStoredHfModel(o.store, modelId);
  let total = 0;
  let written = 0;
  const writer = new ModelWriter(o.store, compressedModelId(modelId, recipe.canonical), o.signal, (n) => {
    written += n;
    o.onProgress?.({ stage: 'write', done: written, total });
  });
  const sink: CompressedFolderSink = {
    begin: (bytes) => void (total = bytes),
    write: writer.write.bind(writer),
    copy: writer.copy.bind(writer),
  };
  try {
    const { report } = await writeCompressedFolder(
      { ...source, open: storedFileOpener(o.store, source.manifest), from: modelId },
      recipe,
      sink,
      {
        quantizer: o.quantizer,
        pruner: o.pruner,
        externalDataThreshold: o.externalDataThreshold ?? 16 * 1024 * 1024,
        calibrationText: o.calibration !== undefined,
        signal: o.signal,
        onProgress: (p) => o.onProgress?.(compressProgress(p)),
        prepare: async (plan, carriedBytes) => {
          if (plan.calibrate && !o.calibration) {
            throw new ShrinkrayError(
              'bad_argument',
              `recipe '${recipe.name}' calibrates on text: send calibration text with it (the built-in English sample will do)`,
            );
          }
          await checkQuota(plan.bytesOut + carriedBytes, `the ${recipe.canonical} compression of ${modelId}`);
          throwIfAborted(o.signal, `compressing ${modelId}`);
          return plan.calibrate
            ? workerCalibration(o.store, source.manifest, source.ir.config, o.calibration!, o.announce, o.onProgress)
            : null;
        },
      },
    );
    return await writer.commit({ source: { kind: 'compressed', from: modelId }, recipe: recipe.canonical, report: { ...report } });
  } catch (e) {
    await writer.discard();
    throw e;
  }
}

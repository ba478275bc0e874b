import { MODEL_FILES, onnxDataPath } from '../formats/model-folder-layout.ts';
import type { PruneBackend } from '../kernels/prune/index.ts';
import type { RtnBackend } from '../kernels/quantize/index.ts';
import type { LayerRemoval } from './drop/drop-blocks.ts';
import type { CompressResult, TensorOutcome } from './pipeline.ts';
import type { MixedPrecisionSummary } from './mixed-precision.ts';

/**
 * shrinkray.json: what one compression did, written beside the compressed model by the CLI
 * and by the compress worker alike, and shown by the page's report.
 */
export interface ShrinkrayReport {
  recipe: string; // canonical spelling, e.g. int4-g32
  recipeText: string; // as the user wrote it
  from: string; // the source: a store model id (page) or a folder (CLI)
  bytesIn: number; // the source's weight files
  bytesOut: number; // onnx/model.onnx plus its external data
  plannedBytesOut: number; // the planner's estimate, checked against the quota before any work
  paramsIn: number; // parameters before and after structured pruning
  paramsOut: number;
  ops: 'plain' | 'fused';
  quantizer: RtnBackend;
  pruner: PruneBackend;
  seconds: number; // the whole job
  compressSeconds: number; // planning, kernels and graph building
  readSeconds: number | null; // of compressSeconds, reading source tensors (measured where the store is read)
  readBytes: number | null;
  writeSeconds: number | null; // writing the output (into the store)
  files: { model: string; externalData: string | null };
  /** What the calibrated pass did; null when the recipe used no calibration. */
  calibration: CalibrationReport | null;
  /** drop{N}[-bi|-last] only: the decoder blocks removed (original indices) and each block's score or SLEB's losses. */
  layerRemoval?: LayerRemoval;
  /** bits{X}: the budget and the width chosen for each matrix (absent for other recipes). */
  mixedPrecision?: MixedPrecisionSummary;
  tensors: TensorOutcome[];
}

/** The calibration text and what was taken from it. */
export interface CalibrationText {
  name: string; // a file name, 'built-in: <file>', or 'pasted text'
  windowLength: number; // tokens per window (512, or the context length if shorter)
  seed: number; // picks the windows when the text holds more than asked for
  available: number; // whole windows the text holds
}

export interface CalibrationReport extends CalibrationText {
  windows: number;
  tokens: number;
  kernels: 'reference' | 'wasm';
  seconds: number; // the calibrated blocks: their passes over the windows and the methods
  awqAlpha: { attn?: number; o?: number; mlp?: number; down?: number }[] | null; // AWQ's exponent per block and group
}

export interface ReportInput {
  result: CompressResult;
  recipeText: string;
  from: string;
  bytesIn: number;
  ops: 'plain' | 'fused';
  quantizer: RtnBackend;
  pruner: PruneBackend;
  seconds: number;
  compressSeconds: number;
  reads?: { seconds: number; bytes: number };
  writeSeconds?: number;
  calibrationText?: CalibrationText; // required when the result was calibrated
}

export function compressionReport(r: ReportInput): ShrinkrayReport {
  const { plan, built } = r.result;
  return {
    recipe: plan.recipe.canonical,
    recipeText: r.recipeText,
    from: r.from,
    bytesIn: r.bytesIn,
    bytesOut: built.model.byteLength + (built.externalData?.byteLength ?? 0),
    plannedBytesOut: plan.bytesOut,
    paramsIn: r.result.paramsIn,
    paramsOut: r.result.paramsOut,
    ops: r.ops,
    quantizer: r.quantizer,
    pruner: r.pruner,
    seconds: r.seconds,
    compressSeconds: r.compressSeconds,
    readSeconds: r.reads?.seconds ?? null,
    readBytes: r.reads?.bytes ?? null,
    writeSeconds: r.writeSeconds ?? null,
    files: { model: MODEL_FILES.onnxModel, externalData: built.externalData ? onnxDataPath(built.externalData.location) : null },
    calibration: r.result.calibration && r.calibrationText ? { ...r.calibrationText, ...r.result.calibration } : null,
    ...(r.result.layerRemoval ? { layerRemoval: r.result.layerRemoval } : {}),
    ...(r.result.mixedPrecision ? { mixedPrecision: r.result.mixedPrecision } : {}),
    tensors: r.result.tensors,
  };
}

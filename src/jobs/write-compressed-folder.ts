import type { CalibrationInput } from '../compress/calibrated-model.ts';
import { keptBlockFields } from '../compress/drop/drop-blocks.ts';
import { compressModel, type CompressOptions, type CompressResult } from '../compress/pipeline.ts';
import { planCompression, type CompressionPlan } from '../compress/plan.ts';
import type { Recipe } from '../compress/recipe.ts';
import { compressionReport, type CalibrationText, type ShrinkrayReport } from '../compress/report.ts';
import type { ByteSource, OpenModelFile } from '../formats/byte-source.ts';
import { CARRIED_FILES, MODEL_FILES, onnxDataPath } from '../formats/model-folder-layout.ts';
import { transformersJsConfig } from '../formats/transformers-js-folder.ts';
import type { Pruner } from '../kernels/prune/index.ts';
import type { RtnQuantizer } from '../kernels/quantize/index.ts';
import { toGenerationConfig, toHfConfig } from '../model/hf-config.ts';
import type { ModelIR } from '../model/ir.ts';

/**
 * The job "compress a model into a transformers.js-ready folder", written once for the CLI and
 * the compress worker: plan, compress (streaming), then onnx/model.onnx (+ its external data),
 * the carried tokenizer files, generation_config.json when the source has none, config.json
 * and shrinkray.json. Where the files go is the host's sink: a folder on disk (node/disk-folder-sink.ts)
 * or a model staged in the store (worker/model-writer.ts), so the page and the CLI write the same folder.
 */

/** Where the folder's files go, by '/'-separated path (MODEL_FILES). */
export interface CompressedFolderSink {
  /** Called once before the first file with the bytes all files will hold (for write progress). */
  begin?(bytes: number): void;
  /** Writes one file from its parts, in order. */
  write(path: string, content: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** Writes one file copied from the source's (a carried tokenizer file), piece by piece. */
  copy(path: string, src: ByteSource): Promise<void>;
}

/** The model being compressed: a folder on disk (CLI) or a stored model (page), tensors read lazily. */
export interface CompressSource {
  ir: ModelIR;
  /** config.json as read: its other fields are carried over. */
  configJson: Record<string, unknown>;
  /** Bytes of the weight files (the model's size before compression). */
  weightBytes: number;
  /** Opens the source's files: the carried ones (CARRIED_FILES) are copied as they are. */
  open: OpenModelFile;
  /** How the report names the source: its folder or its store id. */
  from: string;
  /** What reading tensors has cost, when the host measures it (the store's reads). */
  reads?: { bytes: number; ms: number };
}

/** The calibration windows and kernels a host prepared for a plan that calibrates. */
export interface JobCalibration {
  input: CalibrationInput;
  text: CalibrationText;
  /** Stops the threads the kernels ran on. */
  close?(): void;
}

export interface CompressFolderOptions {
  quantizer: RtnQuantizer;
  /** Default: the scalar reference (bit-identical masks). */
  pruner?: Pruner;
  ops?: 'plain' | 'fused';
  externalDataThreshold?: number;
  /** Whether the user gave calibration text: it makes ffn/heads activation-aware (planCompression). */
  calibrationText: boolean;
  /**
   * Once the plan is known, before any weight is read: the host's own checks (the page's quota,
   * counting `carriedBytes`), and the calibration windows when `plan.calibrate`, else null.
   */
  prepare(plan: CompressionPlan, carriedBytes: number): Promise<JobCalibration | null>;
  signal?: AbortSignal;
  /** Compression and calibration progress; the sink reports its own write progress (it knows the total from `begin`). */
  onProgress?: CompressOptions['onProgress'];
}

export interface CompressedFolder {
  result: CompressResult;
  report: ShrinkrayReport;
  /** Bytes of onnx/model.onnx and its external data. */
  bytesOut: number;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n');

export async function writeCompressedFolder(
  source: CompressSource,
  recipe: Recipe,
  sink: CompressedFolderSink,
  o: CompressFolderOptions,
): Promise<CompressedFolder> {
  const started = performance.now();
  // Every recipe check against the model, before any weight is read.
  const plan = planCompression(recipe, source.ir.config, { calibrationText: o.calibrationText });
  const carried = new Map<string, ByteSource>();
  for (const path of CARRIED_FILES) {
    const src = await source.open(path);
    if (src) carried.set(path, src);
  }
  const carriedBytes = [...carried.values()].reduce((s, f) => s + f.size, 0);
  const calibration = await o.prepare(plan, carriedBytes);
  const ops = o.ops ?? 'plain';
  const result = await compressModel(source.ir, plan, {
    quantizer: o.quantizer,
    pruner: o.pruner,
    ops,
    externalDataThreshold: o.externalDataThreshold,
    calibration: calibration?.input,
    signal: o.signal,
    onProgress: o.onProgress,
  }).finally(() => calibration?.close?.());
  const compressSeconds = (performance.now() - started) / 1000;

  const writeStarted = performance.now();
  const { built } = result;
  const bytesOut = built.model.byteLength + (built.externalData?.byteLength ?? 0);
  sink.begin?.(bytesOut + carriedBytes);
  await sink.write(MODEL_FILES.onnxModel, built.model);
  if (built.externalData) await sink.write(onnxDataPath(built.externalData.location), built.externalData.chunks);
  for (const [path, src] of carried) await sink.copy(path, src);
  if (!carried.has(MODEL_FILES.generationConfig))
    await sink.write(MODEL_FILES.generationConfig, json(toGenerationConfig(source.ir.config)));
  // The source's config.json, with the fields structured pruning and block removal changed.
  const configJson = { ...source.configJson, ...toHfConfig(result.config), ...keptBlockFields(source.configJson, result.layerRemoval) };
  await sink.write(MODEL_FILES.config, json(transformersJsConfig(configJson, built.externalData !== null)));
  const report = compressionReport({
    result,
    recipeText: recipe.name,
    from: source.from,
    bytesIn: source.weightBytes,
    ops,
    quantizer: o.quantizer.backend,
    pruner: result.pruner,
    seconds: (performance.now() - started) / 1000,
    compressSeconds,
    reads: source.reads && { seconds: source.reads.ms / 1000, bytes: source.reads.bytes },
    writeSeconds: (performance.now() - writeStarted) / 1000,
    calibrationText: calibration?.text,
  });
  await sink.write(MODEL_FILES.report, json(report));
  return { result, report, bytesOut };
}

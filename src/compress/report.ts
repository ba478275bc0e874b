import type { PruneBackend } from '../kernels/prune/index.ts';
import type { RtnBackend } from '../kernels/quantize/index.ts';
import type { CompressResult, TensorOutcome } from './pipeline.ts';

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
  tensors: TensorOutcome[];
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
    files: { model: 'onnx/model.onnx', externalData: built.externalData ? `onnx/${built.externalData.location}` : null },
    tensors: r.result.tensors,
  };
}

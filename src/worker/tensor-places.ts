import type { CompressProgress } from '../compress/pipeline.ts';
import { kindBits, type TensorOutcome } from '../compress/tensor-outcome.ts';
import { parseTensorName } from '../model/tensor-table.ts';
import type { Progress, ReportTensor, StoredReport, TensorPlace } from './protocol.ts';

/**
 * Tensor names become places here, on the worker's side of the boundary: the page gets
 * `{ layer, key, linear }` (and a report tensor's code bits) and never parses a name or a
 * kind. shrinkray.json itself is left as written; only what crosses to the page is placed.
 */
export function tensorPlace(name: string): TensorPlace {
  const { layer, key, linear } = parseTensorName(name);
  return { name, layer, key, linear };
}

/** A report's tensor entry with its place and code bits. */
export function reportTensor(t: TensorOutcome): ReportTensor {
  return { ...t, ...tensorPlace(t.name), bits: kindBits(t.kind) };
}

/**
 * A stored shrinkray.json as the page gets it. A report from an older version (a zip
 * imported back) may lack tensors: it gets an empty list, which the page shows as nothing to chart.
 */
export function pageReport(stored: unknown): StoredReport {
  const report = stored as Omit<StoredReport, 'tensors'> & { tensors?: TensorOutcome[] };
  return { ...report, tensors: Array.isArray(report.tensors) ? report.tensors.map(reportTensor) : [] };
}

/** The compression pipeline's progress as the page gets it: the tensor being compressed comes placed. */
export function compressProgress(p: CompressProgress): Progress {
  const progress: Progress = { stage: p.stage, done: p.done, total: p.total, item: p.tensor };
  return p.stage === 'compress' && p.tensor !== '' ? { ...progress, tensor: tensorPlace(p.tensor) } : progress;
}

import { ShrinkrayError } from '../errors.ts';
import { applyMask, createPruner, maskSparsity, type Pruner } from '../kernels/prune/index.ts';
import { relativeFrobeniusError, type RtnQuantizer } from '../kernels/quantize/index.ts';
import { buildOnnxDecoder, type BuiltDecoder } from '../build/decoder.ts';
import type { LinearHook, LinearWeight } from '../build/linear-weight.ts';
import type { QuantizedMatMul } from '../build/quant-paths.ts';
import type { ModelConfig } from '../model/config.ts';
import type { ModelIR } from '../model/ir.ts';
import type { CompressionPlan, TensorPlan } from './plan.ts';
import { structuredIr } from './structured-ir.ts';
import type { StructuredScores } from './structured-prune.ts';
import type { TensorOutcome } from './tensor-outcome.ts';
import type { CalibBackend } from './calib-backend.ts';
import { calibratedIr, ModelCalibrator, type CalibrationInput, type CalibrationProgress } from './calibrated-model.ts';
import { roundTripHalf, rtnLinear } from './linear-quant.ts';
import { elementCount, modelTensors } from '../model/tensor-table.ts';
import { withKeptLayerKinds, type LayerRemoval } from './drop/drop-blocks.ts';
import { chooseMixedWidths, type MixedPrecisionSummary } from './mixed-precision.ts';
import { removeBlocks } from './drop/remove-blocks.ts';
import type { MatrixSensitivity } from './width-sensitivity.ts';
import { lowRankKind, lowRankLinear } from './low-rank.ts';

/**
 * The streaming compression pipeline, shared by the CLI and the compress worker. It takes
 * the plan their caller made (planCompression: every check before any work) and walks it:
 * blocks removed (drop) -> per layer, structured pruning -> per tensor, mask -> quantize -> ONNX graph. The embedding
 * (and an untied classifier) go through the same per-tensor step, quantized only when the
 * recipe has emb4/emb8. One source tensor is decoded at a time (one layer when structured
 * pruning needs the layer whole).
 */
/** Progress of a compression: tensors compressed (named), or blocks calibrated. */
export type CompressProgress = { stage: 'compress'; done: number; total: number; tensor: string } | CalibrationProgress;

export interface CompressOptions {
  quantizer: RtnQuantizer; // bit-identical backends; the choice is only about speed
  pruner?: Pruner; // the same; default: the scalar reference
  ops?: 'plain' | 'fused';
  quantizedMatMul?: QuantizedMatMul; // how quantized linear layers are multiplied (default MatMulNBits)
  externalDataThreshold?: number;
  /** Scores for the structured steps without calibration (default: weight norms); benchmarks pass random ones as a baseline. */
  structuredScores?: (layer: number) => StructuredScores;
  /** The calibration windows and kernels; required when plan.calibrate. */
  calibration?: CalibrationInput;
  onProgress?: (p: CompressProgress) => void;
  signal?: AbortSignal;
}

/** What the calibrated pass did, for the report. */
export interface CalibrationSummary {
  windows: number;
  tokens: number;
  kernels: CalibBackend['name'];
  seconds: number; // of compressSeconds, the calibrated blocks (their passes and methods) and drop{N}'s block scoring
  awqAlpha: { attn?: number; o?: number; mlp?: number; down?: number }[] | null; // per block, AWQ only
}

export type { TensorOutcome } from './tensor-outcome.ts';

export interface CompressResult {
  plan: CompressionPlan;
  pruner: Pruner['backend'];
  config: ModelConfig; // of the output model
  paramsIn: number; // parameter counts before and after structured pruning
  paramsOut: number;
  built: BuiltDecoder;
  tensors: TensorOutcome[];
  calibration: CalibrationSummary | null;
  layerRemoval: LayerRemoval | null; // drop{N}[-bi|-last]: which blocks went, and their scores or losses
  mixedPrecision?: MixedPrecisionSummary; // bits{X}: the width chosen for each matrix
  widthSensitivities?: MatrixSensitivity[]; // bits{X}: each matrix's error at every width
}

export async function compressModel(sourceIr: ModelIR, planned: CompressionPlan, opts: CompressOptions): Promise<CompressResult> {
  const pruner = opts.pruner ?? (await createPruner());
  const { calibration: input, quantizer, signal, onProgress } = opts;
  let ir = sourceIr;
  let removal: LayerRemoval | null = null;
  if (planned.recipe.drop) {
    ({ ir, removal } = await removeBlocks(ir, planned.recipe.drop, input, { signal, onProgress }));
  }
  // The later steps see the kept blocks as the whole model; its NoPE layers (SmolLM3) and sliding layers (Gemma 3) are those of the blocks kept.
  const kept = removal ? { ...planned, configIn: ir.config, configOut: withKeptLayerKinds(planned.configOut, ir.config) } : planned;
  // bits{X}: the widths are chosen first, on the calibration windows; then each matrix is rounded to nearest at its width.
  const started = performance.now();
  const mixed =
    kept.recipe.mixed && kept.calibrate && input
      ? await chooseMixedWidths(ir, kept, input.windows, { quantizer, backend: input.backend, signal, onProgress })
      : null;
  const mixedSeconds = (performance.now() - started) / 1000;
  const plan = mixed?.plan ?? kept;
  let calibrator: ModelCalibrator | null = null;
  if (plan.calibratedBlocks && !mixed) {
    if (!opts.calibration)
      throw new ShrinkrayError(
        'bad_argument',
        `recipe '${plan.recipe.name}' needs calibration windows (GPTQ, AWQ, Wanda, SparseGPT, activation-aware low-rank or structured pruning)`,
      );
    calibrator = await ModelCalibrator.start(ir, kept, opts.calibration, {
      quantizer: opts.quantizer,
      pruner,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
  }
  const source = calibrator
    ? calibratedIr(ir, kept, calibrator)
    : plan.structured
      ? structuredIr(ir, plan.structured, plan.configOut, opts.structuredScores)
      : ir;
  const byName = new Map(plan.tensors.map((t) => [t.name, t]));
  const outcomes: TensorOutcome[] = [];
  let done = 0;

  const linear: LinearHook = async (name, weight, N, K) => {
    if (opts.signal?.aborted) throw new ShrinkrayError('aborted', `compression cancelled at ${name}`);
    const tp = byName.get(name);
    if (!tp) throw new ShrinkrayError('bad_argument', `the compression plan has no row for tensor '${name}'`);
    const calibrated = await calibrator?.linear(name);
    const result = calibrated ?? (await compressLinear(tp, weight, N, K, opts.quantizer, pruner));
    outcomes.push(result.outcome);
    opts.onProgress?.({ stage: 'compress', done: ++done, total: plan.tensors.length, tensor: name });
    return result.weight;
  };

  const built = await buildOnnxDecoder(source, {
    storage: plan.recipe.storage,
    linear,
    embedding: linear,
    ops: opts.ops,
    externalDataThreshold: opts.externalDataThreshold,
    quantizedMatMul: opts.quantizedMatMul,
  });
  if (opts.signal?.aborted) throw new ShrinkrayError('aborted', 'compression cancelled');
  // Norms and biases are stored as the plan says; list them too.
  const linearNames = new Set(outcomes.map((o) => o.name));
  for (const t of built.tensors) {
    if (!linearNames.has(t.name)) {
      outcomes.push({ name: t.name, shape: t.shape, kind: t.kind, bytes: t.bytes, sparsity: 0, relError: t.kind === 'fp32' ? 0 : null });
    }
  }
  opts.onProgress?.({ stage: 'compress', done: plan.tensors.length, total: plan.tensors.length, tensor: '' });
  const params = (shapeOf: (t: TensorPlan) => readonly number[]) => plan.tensors.reduce((n, t) => n + elementCount(shapeOf(t)), 0);
  const calibration: CalibrationSummary | null =
    (calibrator || (removal && removal.method !== 'last')) && opts.calibration
      ? {
          windows: opts.calibration.windows.length,
          tokens: opts.calibration.windows.reduce((n, w) => n + w.length, 0),
          kernels: opts.calibration.backend.name,
          seconds: (calibrator?.seconds ?? 0) + (removal?.seconds ?? 0),
          awqAlpha: plan.recipe.quant?.method === 'awq' && calibrator ? calibrator.awqAlpha : null,
        }
      : mixed && input
        ? {
            windows: input.windows.length,
            tokens: input.windows.reduce((n, w) => n + w.length, 0),
            kernels: input.backend.name,
            seconds: mixedSeconds + (removal?.seconds ?? 0),
            awqAlpha: null,
          }
        : null;
  return {
    plan,
    pruner: pruner.backend,
    config: plan.configOut,
    paramsIn: modelTensors(planned.configIn).reduce((n, t) => n + elementCount(t.shape), 0), // the removed blocks too
    paramsOut: params((t) => t.shape) - plan.tensors.reduce((n, t) => n + (t.lowRank ? lowRankSaving(t.shape, t.lowRank.rank) : 0), 0),
    built,
    tensors: outcomes,
    calibration,
    layerRemoval: removal,
    ...(mixed ? { mixedPrecision: mixed.summary, widthSensitivities: mixed.sensitivities } : {}),
  };
}

/** Weights a factorised [N, K] layer saves: N·K - r(N + K). */
const lowRankSaving = (shape: readonly number[], rank: number) => shape[0]! * shape[1]! - rank * (shape[0]! + shape[1]!);

async function compressLinear(
  tp: TensorPlan,
  weight: Float32Array,
  N: number,
  K: number,
  quantizer: RtnQuantizer,
  pruner: Pruner,
): Promise<{ weight: LinearWeight; outcome: TensorOutcome }> {
  if (tp.lowRank) {
    const job = { name: tp.name, w: weight, N, K, rank: tp.lowRank.rank, hessian: null, quant: tp.quant, storage: tp.dtype };
    const r = await lowRankLinear(job, quantizer);
    const kind = lowRankKind(r.weight.rank, tp.quant, tp.dtype);
    return {
      weight: r.weight,
      outcome: { name: tp.name, shape: [N, K], kind, bytes: r.bytes, sparsity: 0, relError: relativeFrobeniusError(weight, r.values) },
    };
  }
  let w = weight;
  let sparsity = 0;
  if (tp.mask) {
    // Without calibration only the data-free masks exist (the planner sends Wanda and SparseGPT through calibration).
    if (tp.mask.kind !== 'magnitude' && tp.mask.kind !== 'nm') {
      throw new ShrinkrayError('bad_argument', `${tp.name}: the ${tp.mask.kind} mask needs the calibrated pass`);
    }
    const mask =
      tp.mask.kind === 'magnitude'
        ? await pruner.magnitudeMask(weight, N, K, { sparsity: tp.mask.sparsity, scope: tp.mask.scope }, tp.name)
        : await pruner.nmMask(weight, N, K, { n: tp.mask.n, m: tp.mask.m }, tp.name);
    w = applyMask(Float32Array.from(weight), mask);
    sparsity = maskSparsity(mask);
  }
  const shape = [N, K];
  if (tp.quant) {
    const { bits, blockSize, symmetric } = tp.quant;
    const q = await rtnLinear(w, N, K, tp.quant, quantizer, tp.name);
    const relError = relativeFrobeniusError(weight, q.values);
    const kind = `int${bits}-g${blockSize}${symmetric ? '' : '-asym'}`;
    return { weight: q.weight, outcome: { name: tp.name, shape, kind, bytes: q.bytes, sparsity, relError } };
  }
  const storage = tp.dtype;
  const relError = relativeFrobeniusError(weight, storage === 'fp16' ? roundTripHalf(w) : w);
  return {
    weight: { kind: 'dense', storage, weight: w, outFeatures: N, inFeatures: K },
    outcome: { name: tp.name, shape, kind: storage, bytes: w.length * (storage === 'fp16' ? 2 : 4), sparsity, relError },
  };
}

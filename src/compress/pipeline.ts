import { ShrinkrayError } from '../errors.ts';
import { floatToHalf, halfToFloat } from '../kernels/half.ts';
import { applyMask, createPruner, maskSparsity, type Pruner } from '../kernels/prune/index.ts';
import { dequantizeNBits, relativeFrobeniusError, type RtnQuantizer } from '../kernels/quantize/index.ts';
import { buildOnnxDecoder, type BuiltDecoder } from '../build/decoder.ts';
import type { LinearHook, LinearWeight } from '../build/linear-weight.ts';
import type { QuantizedMatMul } from '../build/quant-paths.ts';
import type { ModelConfig } from '../model/config.ts';
import type { ModelIR } from '../model/ir.ts';
import type { CompressionPlan, TensorPlan } from './plan.ts';
import { structuredIr } from './structured-ir.ts';
import { elementCount } from '../model/tensor-table.ts';

/**
 * The streaming compression pipeline, shared by the CLI and the compress worker. It takes
 * the plan their caller made (planCompression: every check before any work) and walks it:
 * per layer, structured pruning -> per tensor, mask -> quantize -> ONNX graph. The embedding
 * (and an untied classifier) go through the same per-tensor step, quantized only when the
 * recipe has emb4/emb8. One source tensor is decoded at a time (one layer when structured
 * pruning needs the layer whole).
 */
export interface CompressOptions {
  quantizer: RtnQuantizer; // bit-identical backends; the choice is only about speed
  pruner?: Pruner; // the same; default: the scalar reference
  ops?: 'plain' | 'fused';
  quantizedMatMul?: QuantizedMatMul; // how quantized linear layers are multiplied (default MatMulNBits)
  externalDataThreshold?: number;
  onProgress?: (p: { stage: 'compress'; done: number; total: number; tensor: string }) => void;
  signal?: AbortSignal;
}

/** What happened to one weight, for shrinkray.json and the per-layer error chart. */
export interface TensorOutcome {
  name: string;
  shape: number[]; // [out, in] after structured pruning
  kind: string; // 'fp32' | 'fp16' | 'int4-g32' | 'int8-g32-asym' ...
  bytes: number; // stored size
  sparsity: number; // fraction of zeros a mask introduced (0 without one)
  relError: number | null; // ||W - W_hat||_F / ||W||_F against the (structurally pruned) source; null: not measured
}

export interface CompressResult {
  plan: CompressionPlan;
  pruner: Pruner['backend'];
  config: ModelConfig; // of the output model
  paramsIn: number; // parameter counts before and after structured pruning
  paramsOut: number;
  built: BuiltDecoder;
  tensors: TensorOutcome[];
}

export async function compressModel(ir: ModelIR, plan: CompressionPlan, opts: CompressOptions): Promise<CompressResult> {
  const pruner = opts.pruner ?? (await createPruner());
  const source = plan.structured ? structuredIr(ir, plan.structured, plan.configOut) : ir;
  const byName = new Map(plan.tensors.map((t) => [t.name, t]));
  const outcomes: TensorOutcome[] = [];
  let done = 0;

  const linear: LinearHook = async (name, weight, N, K) => {
    if (opts.signal?.aborted) throw new ShrinkrayError('aborted', `compression cancelled at ${name}`);
    const tp = byName.get(name);
    if (!tp) throw new ShrinkrayError('bad_argument', `the compression plan has no row for tensor '${name}'`);
    const result = await compressLinear(tp, weight, N, K, opts.quantizer, pruner);
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
  return {
    plan,
    pruner: pruner.backend,
    config: plan.configOut,
    paramsIn: params((t) => t.shapeIn),
    paramsOut: params((t) => t.shape),
    built,
    tensors: outcomes,
  };
}

async function compressLinear(
  tp: TensorPlan,
  weight: Float32Array,
  N: number,
  K: number,
  quantizer: RtnQuantizer,
  pruner: Pruner,
): Promise<{ weight: LinearWeight; outcome: TensorOutcome }> {
  let w = weight;
  let sparsity = 0;
  if (tp.mask) {
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
    // Scales stay fp32: MatMulNBits' scale type must match its fp32 activations in our graph.
    const q = await quantizer.quantizeRtn(w, N, K, { bits, blockSize, symmetric, scaleDtype: 'f32', name: tp.name });
    const relError = relativeFrobeniusError(weight, dequantizeNBits(q, N, K, { bits, blockSize }));
    const nbits: LinearWeight = {
      kind: 'nbits',
      bits,
      blockSize,
      outFeatures: N,
      inFeatures: K,
      packed: q.packed,
      scales: q.scales as Float32Array,
      ...(q.zeroPoints ? { zeroPoints: q.zeroPoints } : {}),
    };
    const bytes = q.packed.byteLength + q.scales.byteLength + (q.zeroPoints?.byteLength ?? 0);
    const kind = `int${bits}-g${blockSize}${symmetric ? '' : '-asym'}`;
    return { weight: nbits, outcome: { name: tp.name, shape, kind, bytes, sparsity, relError } };
  }
  const storage = tp.dtype;
  const relError = relativeFrobeniusError(weight, storage === 'fp16' ? roundTripHalf(w) : w);
  return {
    weight: { kind: 'dense', storage, weight: w, outFeatures: N, inFeatures: K },
    outcome: { name: tp.name, shape, kind: storage, bytes: w.length * (storage === 'fp16' ? 2 : 4), sparsity, relError },
  };
}

function roundTripHalf(w: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = halfToFloat(floatToHalf(w[i]!));
  return out;
}

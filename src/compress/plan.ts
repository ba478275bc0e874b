import type { ModelConfig } from '../model/config.ts';
import { prunedConfig, type StructuredPlan } from './structured-prune.ts';
import { containerBits, storesZeroPoints } from '../kernels/quantize/nbits-codes.ts';
import { recipeNeedsCalibration, validateRecipeForModel, type MaskStep, type Recipe, type WeightDtype } from './recipe.ts';
import { elementCount, modelTensors, type LinearKind, type TensorRole } from '../model/tensor-table.ts';
import { droppedConfig, lastBlocks } from './drop/drop-blocks.ts';
import { lowRankPlan, type LowRankPlan } from './low-rank-rules.ts';

/**
 * Recipe + config → one row per output tensor saying what happens to it, so the compress
 * pipeline (CLI or worker) only walks the table:
 *   1. if `structured`, the tensor's layer goes through pruneLayerStructured first
 *      (all tensors of a layer together: its shapes change as a unit);
 *   2. if `mask`, an unstructured/N:M mask from the pruning kernels is applied;
 *   3. if `quant`, it is block-quantized along its last dimension (MatMulNBits layout for
 *      linears; the same blocked layout for the embedding, which a tied classifier shares);
 *   4. otherwise it is stored as `dtype`.
 * Rules: masks and `int` touch only the 7 linear projections of every decoder block;
 * `emb4`/`emb8` quantize the embedding and an untied classifier; norms and q/k/v biases are
 * never pruned or quantized and stay fp32 (tiny, and precision-sensitive); everything else
 * not quantized is stored as the recipe's storage type.
 * `calibratedBlocks` says whether the decoder blocks go through the calibrated pass
 * (calibrated-model.ts) instead: GPTQ, AWQ, Wanda and SparseGPT always, the structured steps
 * when calibration text is given (activation-aware scores rather than weight norms);
 * `calibrate`, whether calibration windows are needed at all (also for drop{N}'s block scores).
 * With `drop`, the rows are those of the kept blocks, already renumbered (drop/drop-blocks.ts): the
 * planner does not know which blocks go, but they all have the same shapes.
 */

export interface BlockQuant {
  bits: number; // code width; 3-bit codes are stored in the 4-bit container
  blockSize: number;
  symmetric: boolean;
}

export interface TensorPlan {
  name: string;
  role: TensorRole;
  layer: number | null;
  linear: LinearKind | null;
  shapeIn: readonly number[]; // as in the source model ([out, in] for matrices)
  shape: readonly number[]; // after structured pruning
  structured: boolean; // shape changes through pruneLayerStructured
  mask: MaskStep | null; // unstructured or N:M mask, applied before quantization
  quant: BlockQuant | null; // block quantization along the last dimension
  dtype: WeightDtype; // storage when not quantized; the scales' type when quantized
  bytesIn: number; // fp32 size of shapeIn
  bytesOut: number; // estimated stored size
  lowRank?: LowRankPlan; // lr: stored as two factors (each quantized when `quant`); absent otherwise
}

export interface CompressionPlan {
  recipe: Recipe;
  configIn: ModelConfig;
  configOut: ModelConfig; // after layer removal and structured pruning
  structured: StructuredPlan | null; // null when the recipe removes nothing
  calibrate: boolean; // needs calibration windows: for the calibrated pass, or to score blocks for drop{N}
  calibratedBlocks: boolean; // the decoder blocks run the calibrated pass
  tensors: TensorPlan[]; // in file order
  bytesIn: number; // fp32 size of the input model
  bytesOut: number;
}

export interface NBitsBytes {
  data: number; // B: uint8 [N, ceil(K/block), block*bits/8]
  scales: number; // [N * ceil(K/block)] of fp32 (4 bytes) or fp16 (2)
  zeroPoints: number; // uint8 [N * ceil(ceil(K/block) * bits / 8)], asymmetric only
  total: number;
}

/** Bytes of one [N, K] weight in onnxruntime's MatMulNBits layout (K padded up to whole blocks; 3-bit codes in the 4-bit container). */
export function matMulNBitsBytes(N: number, K: number, q: BlockQuant, scaleBytes: 2 | 4): NBitsBytes {
  const blocks = Math.ceil(K / q.blockSize);
  const bits = containerBits(q.bits);
  const data = N * blocks * ((q.blockSize * bits) / 8);
  const scales = N * blocks * scaleBytes;
  const zeroPoints = storesZeroPoints(q.bits, q.symmetric) ? N * Math.ceil((blocks * bits) / 8) : 0;
  return { data, scales, zeroPoints, total: data + scales + zeroPoints };
}

const dtypeBytes = (d: WeightDtype): 2 | 4 => (d === 'fp16' ? 2 : 4);

export interface PlanOptions {
  /** Calibration text will be given: the structured steps then score by activations. */
  calibrationText?: boolean;
}

/** Builds the plan; throws ShrinkrayError('bad_recipe') first when the recipe does not fit. */
export function planCompression(recipe: Recipe, config: ModelConfig, options: PlanOptions = {}): CompressionPlan {
  validateRecipeForModel(recipe, config);
  // Which blocks go is chosen when the pipeline runs; the shapes do not depend on it (the NoPE layers do: pipeline.ts takes them from the kept model).
  const kept = recipe.drop ? droppedConfig(config, lastBlocks(config.numLayers, recipe.drop.count)) : config;
  const configOut = recipe.structured ? prunedConfig(kept, recipe.structured) : kept;
  const outShapes = new Map(modelTensors(configOut).map((t) => [t.name, t.shape]));

  const tensors = modelTensors(kept).map((t): TensorPlan => {
    const shape = outShapes.get(t.name)!;
    const isLinear = t.role === 'linear';
    // `int` quantizes the linear layers, `emb` the embedding and an untied classifier.
    const step = !t.quantizable ? null : isLinear ? recipe.quant : recipe.embedQuant;
    const quant: BlockQuant | null = step ? { bits: step.bits, blockSize: step.blockSize, symmetric: step.symmetric } : null;
    const dtype: WeightDtype = t.quantizable ? recipe.storage : 'fp32'; // norms and biases stay fp32
    const lowRank = isLinear && recipe.lowRank ? lowRankPlan(recipe.lowRank, shape[0]!, shape[1]!) : undefined;
    const bytesOf = (N: number, K: number) => (quant ? matMulNBitsBytes(N, K, quant, dtypeBytes(dtype)).total : N * K * dtypeBytes(dtype));
    // bits{X}: each matrix's width is chosen at compression (mixed-precision.ts); until then, its share of the budget.
    const bytesOut =
      recipe.mixed && isLinear
        ? Math.floor((elementCount(shape) * recipe.mixed.bitsPerWeight) / 8)
        : lowRank
          ? bytesOf(lowRank.rank, shape[1]!) + bytesOf(shape[0]!, lowRank.rank)
          : quant
            ? matMulNBitsBytes(shape[0]!, shape[1]!, quant, dtypeBytes(dtype)).total
            : elementCount(shape) * dtypeBytes(dtype);
    return {
      name: t.name,
      role: t.role,
      layer: t.layer,
      linear: t.linear,
      shapeIn: t.shape,
      shape,
      structured: shape.some((s, i) => s !== t.shape[i]),
      mask: isLinear ? recipe.mask : null,
      quant,
      dtype,
      bytesIn: elementCount(t.shape) * 4,
      bytesOut,
      ...(lowRank ? { lowRank } : {}),
    };
  });
  const calibratedBlocks =
    recipeNeedsCalibration({ quant: recipe.quant, mask: recipe.mask, lowRank: recipe.lowRank }) ||
    (options.calibrationText === true && recipe.structured !== null);
  return {
    recipe,
    configIn: config,
    configOut,
    structured: recipe.structured,
    calibrate: calibratedBlocks || recipeNeedsCalibration(recipe),
    calibratedBlocks,
    tensors,
    bytesIn: modelTensors(config).reduce((s, t) => s + elementCount(t.shape) * 4, 0), // the removed blocks too
    bytesOut: tensors.reduce((s, t) => s + t.bytesOut, 0),
  };
}

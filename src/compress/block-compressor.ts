import { relativeFrobeniusError } from '../kernels/quantize/index.ts';
import type { LinearWeight } from '../build/linear-weight.ts';
import type { ModelConfig } from '../model/config.ts';
import type { RopeTable } from '../model/reference-ops.ts';
import type { LayerWeights } from '../model/reference-weights.ts';
import { tensorNames, type LinearKind } from '../model/tensor-table.ts';
import { awqClip, divideRows, scaleColumns, searchAwqScale } from './awq.ts';
import { BlockRunner, INPUT_LINEARS, type BlockInput } from './block-runner.ts';
import { compressCalibratedLinear, fixedMask, statsWanted, type LinearDone, type LinearKernels } from './calibrate-linear.ts';
import { InputStats, type StatsWanted } from './calibrate-stats.ts';
import { targetCorrection } from './float-targets.ts';
import { activationScores } from './calibrate-structured.ts';
import type { TensorOutcome } from './tensor-outcome.ts';
import { formatQuant, type Recipe } from './recipe.ts';
import { pruneLayerStructured } from './structured-prune.ts';
import { lowRankKind, lowRankPlan } from './low-rank.ts';

/**
 * One decoder block of a calibrated compression, on the windows' activations entering it:
 * 1. structured pruning, scored by what each FFN channel and KV group adds (one pass);
 * 2. the linear layers, group by group in the block's order (q/k/v, o, gate/up, down), each
 *    on inputs that went through the compressed groups before it (GPTQ's true-sequential
 *    order; Wanda and SparseGPT alike) - or, for AWQ, all four scales searched on one pass
 *    of the float block, folded into the operations before them, then round-to-nearest;
 * 3. one last pass through the compressed block: the next block's input.
 */
export interface CompressedLinear {
  weight: LinearWeight;
  outcome: TensorOutcome;
}

export interface CompressedBlock {
  /** Every tensor of the layer as the graph builder should read it (norms after AWQ's folding; linears as their values). */
  tensors: Map<string, Float32Array>;
  linears: Map<string, CompressedLinear>;
  awqAlpha: Partial<Record<BlockInput, number>>; // the exponents AWQ chose
}

export interface BlockContext {
  recipe: Recipe;
  configIn: ModelConfig;
  configOut: ModelConfig;
  kernels: LinearKernels;
  runner: BlockRunner; // holds the windows' activations entering this layer
  /** The float model's activations entering this layer, when GPTQ matches float targets (advanced here). */
  floatStream: Float32Array[] | null;
  rope: RopeTable | null; // null: the layer applies no RoPE
}

const LINEARS: readonly LinearKind[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

export async function compressBlock(layer: number, source: LayerWeights, ctx: BlockContext): Promise<CompressedBlock> {
  const { recipe, runner } = ctx;
  let w = { ...source };
  if (recipe.structured) w = await structuredStep(layer, w, ctx);
  const reference = { ...w }; // the linears as they should act, for the per-tensor error
  const rowScale = new Map<LinearKind, Float32Array>(); // AWQ divided these rows (v, up) ...
  const colScale = new Map<LinearKind, Float32Array>(); // ... and multiplied these columns
  const done = new Map<LinearKind, LinearDone>();
  const awqAlpha: CompressedBlock['awqAlpha'] = {};
  runner.config = ctx.configOut;
  runner.weights = w;

  if (recipe.quant?.method === 'awq') {
    await awqStep(w, ctx, done, rowScale, colScale, awqAlpha);
  } else {
    // GPTQ's float targets: the float model runs beside, on its own stream (float-targets.ts).
    const floatRunner =
      recipe.quant?.method === 'gptq' && recipe.quant.floatTargets && ctx.floatStream
        ? new BlockRunner(ctx.kernels.backend, ctx.configOut, reference, ctx.floatStream, ctx.rope, undefined, layer)
        : null;
    if (floatRunner) for (const input of ['attn', 'o', 'mlp', 'down'] as const) floatRunner.final[input] = true;
    for (const input of ['attn', 'o', 'mlp', 'down'] as const) {
      const want = statsWanted(recipe.mask, recipe.quant, recipe.lowRank);
      const stats = floatRunner ? await collectPaired(input, ctx, floatRunner, { ...want, shift: true }) : await collect(input, ctx, want);
      const correction =
        floatRunner && stats
          ? await targetCorrection(
              stats.hessian(),
              stats.meanShift(),
              stats.K,
              rowsReading(ctx.configOut, input),
              ctx.kernels.backend,
              `H of layer ${layer} ${input} input`,
            )
          : null;
      for (const key of INPUT_LINEARS[input]) {
        const [N, K] = shapeOf(ctx.configOut, key);
        const target = correction ? await correction.apply(w[key], N) : w[key];
        const r = await compressCalibratedLinear(
          {
            name: tensorNames.layer(layer, ctx.configOut)[key],
            w: target,
            N,
            K,
            mask: recipe.mask,
            quant: recipe.quant,
            storage: recipe.storage,
            stats,
            factor: correction?.factor,
            ...(recipe.lowRank ? { lowRank: lowRankPlan(recipe.lowRank, N, K) } : {}),
          },
          ctx.kernels,
        );
        done.set(key, r);
        w[key] = r.values;
      }
      runner.weights = w;
      runner.final[input] = true;
    }
  }
  runner.weights = w;
  await runner.pass('out');

  const names = tensorNames.layer(layer, ctx.configOut);
  const tensors = new Map<string, Float32Array>([
    [names.attnNorm, w.attnNorm],
    [names.ffnNorm, w.ffnNorm],
    ...LINEARS.map((k): [string, Float32Array] => [names[k], w[k]]),
  ]);
  if (w.qBias) tensors.set(names.qBias, w.qBias);
  if (w.kBias) tensors.set(names.kBias, w.kBias);
  if (w.vBias) tensors.set(names.vBias, w.vBias);
  if (w.qNorm) tensors.set(names.qNorm, w.qNorm);
  if (w.kNorm) tensors.set(names.kNorm, w.kNorm);
  if (w.attnPostNorm) tensors.set(names.attnPostNorm, w.attnPostNorm);
  if (w.ffnPostNorm) tensors.set(names.ffnPostNorm, w.ffnPostNorm);
  const kind = recipe.quant ? formatQuant(recipe.quant) : recipe.storage;
  const linears = new Map<string, CompressedLinear>();
  for (const key of LINEARS) {
    const r = done.get(key)!;
    const [N, K] = shapeOf(ctx.configOut, key);
    const acting = unscale(r.values, N, K, rowScale.get(key), colScale.get(key));
    const outcome: TensorOutcome = {
      name: names[key],
      shape: [N, K],
      kind: r.weight.kind === 'lowrank' ? lowRankKind(r.weight.rank, recipe.quant, recipe.storage) : kind,
      bytes: r.bytes,
      sparsity: r.sparsity,
      relError: relativeFrobeniusError(reference[key], acting),
    };
    linears.set(names[key], { weight: r.weight, outcome });
  }
  return { tensors, linears, awqAlpha };
}

/** [out, in] of a linear layer under `c`. */
function shapeOf(c: ModelConfig, key: LinearKind): [number, number] {
  const q = c.numHeads * c.headDim,
    kv = c.numKvHeads * c.headDim;
  const shapes: Record<LinearKind, [number, number]> = {
    q: [q, c.hiddenSize],
    k: [kv, c.hiddenSize],
    v: [kv, c.hiddenSize],
    o: [c.hiddenSize, q],
    gate: [c.intermediateSize, c.hiddenSize],
    up: [c.intermediateSize, c.hiddenSize],
    down: [c.hiddenSize, c.intermediateSize],
  };
  return shapes[key];
}

/** Output rows of the linears reading `input`, all together. */
function rowsReading(c: ModelConfig, input: BlockInput): number {
  return INPUT_LINEARS[input].reduce((n, key) => n + shapeOf(c, key)[0], 0);
}

/** Width of a block input under `c`. */
function inputWidth(c: ModelConfig, input: BlockInput): number {
  return input === 'o' ? c.numHeads * c.headDim : input === 'down' ? c.intermediateSize : c.hiddenSize;
}

/**
 * One pass of both models up to `input`, window by window, pairing their inputs there. The
 * float model's weights never change, so at the last input it runs on to the block's output
 * (its stream's next input) rather than coming back for it.
 */
async function collectPaired(input: BlockInput, ctx: BlockContext, floatRunner: BlockRunner, want: StatsWanted): Promise<InputStats> {
  const stats = new InputStats(inputWidth(ctx.runner.config, input), want, ctx.kernels.backend);
  for (let w = 0; w < ctx.runner.x.length; w++) {
    let x: Float32Array | null = null;
    let xf: Float32Array | null = null;
    await ctx.runner.pass(input, { [input]: (v: Float32Array) => void (x = v) }, w);
    await floatRunner.pass(input === 'down' ? 'out' : input, { [input]: (v: Float32Array) => void (xf = v) }, w);
    await stats.addPair(x!, xf!, x!.length / stats.K);
  }
  return stats;
}

/** One pass up to `input`, collecting `want` over it; null (and no pass) when nothing is wanted. */
async function collect(input: BlockInput, ctx: BlockContext, want: ReturnType<typeof statsWanted>): Promise<InputStats | null> {
  if (!want) return null;
  const stats = new InputStats(inputWidth(ctx.runner.config, input), want, ctx.kernels.backend);
  await ctx.runner.pass(input, { [input]: stats.sink });
  return stats;
}

async function structuredStep(layer: number, w: LayerWeights, ctx: BlockContext): Promise<LayerWeights> {
  const { runner, configIn: c } = ctx;
  runner.config = c;
  runner.weights = w;
  const oStats = new InputStats(c.numHeads * c.headDim, { gram: true }, ctx.kernels.backend);
  const downStats = new InputStats(c.intermediateSize, { sumSq: true }, ctx.kernels.backend);
  await runner.pass('down', { o: oStats.sink, down: downStats.sink });
  const scores = activationScores(c, w, downStats.channelSumSq(), oStats.gram!);
  const names = tensorNames.layer(layer, c);
  const input = new Map<string, Float32Array>();
  for (const [key, name] of Object.entries(names)) {
    const t = w[key as keyof typeof names];
    if (t) input.set(name, t);
  }
  const pruned = pruneLayerStructured(c, layer, input, ctx.recipe.structured!, scores).tensors;
  runner.reset();
  const get = (key: keyof typeof names) => pruned.get(names[key]) ?? null;
  return {
    attnNorm: get('attnNorm')!,
    q: get('q')!,
    k: get('k')!,
    v: get('v')!,
    qBias: get('qBias'),
    kBias: get('kBias'),
    vBias: get('vBias'),
    qNorm: get('qNorm'),
    kNorm: get('kNorm'),
    o: get('o')!,
    attnPostNorm: get('attnPostNorm'),
    ffnNorm: get('ffnNorm')!,
    ffnPostNorm: get('ffnPostNorm'),
    gate: get('gate')!,
    up: get('up')!,
    down: get('down')!,
  };
}

/** What the stored values stand for in the unscaled model: diag(rowScale) · values · diag(colScale)⁻¹. */
function unscale(values: Float32Array, N: number, K: number, row?: Float32Array, col?: Float32Array): Float32Array {
  if (!row && !col) return values;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) out[n * K + k] = (values[n * K + k]! * (row ? row[n]! : 1)) / (col ? col[k]! : 1);
  }
  return out;
}

/**
 * AWQ: one pass of the float block collects every input's statistics; the masks (if any)
 * are fixed first, then each group's scale is searched and folded:
 *   q, k, v columns ×s, input RMSNorm ÷s;   o columns ×s, v rows (and bias) ÷s, one scale
 *   per KV channel shared by the query heads reading it;   gate, up columns ×s,
 *   post-attention RMSNorm ÷s;   down columns ×s, up rows ÷s.
 * The folded model is an ordinary Llama-family model; then every linear is rounded to nearest.
 */
async function awqStep(
  w: LayerWeights,
  ctx: BlockContext,
  done: Map<LinearKind, LinearDone>,
  rowScale: Map<LinearKind, Float32Array>,
  colScale: Map<LinearKind, Float32Array>,
  alphas: CompressedBlock['awqAlpha'],
): Promise<void> {
  const { runner, recipe, configOut: c } = ctx;
  const quant = recipe.quant!;
  const want = statsWanted(recipe.mask, quant)!;
  const stats = {} as Record<BlockInput, InputStats>;
  for (const input of ['attn', 'o', 'mlp', 'down'] as const) stats[input] = new InputStats(inputWidth(c, input), want, ctx.kernels.backend);
  runner.weights = w;
  await runner.pass('down', { attn: stats.attn.sink, o: stats.o.sink, mlp: stats.mlp.sink, down: stats.down.sink });

  // Masks come first, on the float weights (Wanda's |W|·‖X‖ does not change under the scaling anyway).
  const masked = { ...w };
  const sparsity = new Map<LinearKind, number>();
  for (const input of ['attn', 'o', 'mlp', 'down'] as const) {
    for (const key of INPUT_LINEARS[input]) {
      const [N, K] = shapeOf(c, key);
      const job = { name: key, w: w[key], N, K, mask: recipe.mask, quant: null, storage: recipe.storage, stats: stats[input] };
      if (recipe.mask?.kind === 'sparsegpt') {
        const r = await compressCalibratedLinear(job, ctx.kernels); // SparseGPT's pruning, before the scaling
        masked[key] = r.values;
        sparsity.set(key, r.sparsity);
      } else {
        const keep = await fixedMask(job, ctx.kernels.pruner);
        if (keep) masked[key] = w[key].map((v, i) => (keep[i] ? v : 0));
        sparsity.set(key, keep ? sparsityOf(keep) : 0);
      }
    }
  }

  const qDim = c.numHeads * c.headDim;
  const group = c.numHeads / c.numKvHeads;
  // o's column h*hd + d reads v's row (h / group)*hd + d.
  const oTie = Int32Array.from({ length: qDim }, (_, j) => Math.floor(Math.floor(j / c.headDim) / group) * c.headDim + (j % c.headDim));
  const scales = {} as Record<BlockInput, Float32Array>;
  for (const input of ['attn', 'o', 'mlp', 'down'] as const) {
    const keys = INPUT_LINEARS[input];
    const K = inputWidth(c, input);
    const choice = await searchAwqScale(
      {
        reference: keys.map((k) => w[k]),
        toQuantize: keys.map((k) => masked[k]),
        rows: keys.map((k) => shapeOf(c, k)[0]),
        K,
        meanAbs: stats[input].channelMeanAbs(),
        hessian: stats[input].hessian(),
        ...(input === 'o' ? { tie: oTie } : {}),
      },
      quant,
      ctx.kernels.backend,
    );
    scales[input] = choice.scale;
    alphas[input] = choice.alpha;
    for (const k of keys) colScale.set(k, choice.scale);
  }
  // Fold: the operation before each group is divided by the group's scale.
  const kvScale = new Float32Array(c.numKvHeads * c.headDim);
  oTie.forEach((r, j) => (kvScale[r] = scales.o[j]!));
  w.attnNorm = w.attnNorm.map((v, i) => v / scales.attn[i]!);
  w.ffnNorm = w.ffnNorm.map((v, i) => v / scales.mlp[i]!);
  if (w.vBias) w.vBias = w.vBias.map((v, i) => v / kvScale[i]!);
  rowScale.set('v', kvScale);
  rowScale.set('up', scales.down);
  for (const input of ['attn', 'o', 'mlp', 'down'] as const) {
    for (const key of INPUT_LINEARS[input]) {
      const [N, K] = shapeOf(c, key);
      let scaled = scaleColumns(masked[key], N, K, scales[input]);
      const row = rowScale.get(key);
      if (row) scaled = divideRows(scaled, N, K, row);
      if (key !== 'q' && key !== 'k') scaled = awqClip(scaled, N, K, scales[input], stats[input].hessian(), quant);
      const r = await compressCalibratedLinear(
        { name: key, w: scaled, N, K, mask: null, quant: { ...quant, method: 'rtn' }, storage: recipe.storage, stats: null },
        ctx.kernels,
        null,
      );
      done.set(key, { ...r, sparsity: sparsity.get(key) ?? 0 });
      w[key] = r.values;
    }
  }
  for (const input of ['attn', 'o', 'mlp', 'down'] as const) runner.final[input] = true;
  runner.reset();
}

function sparsityOf(keep: Uint8Array): number {
  let zeros = 0;
  for (let i = 0; i < keep.length; i++) if (!keep[i]) zeros++;
  return zeros / keep.length;
}

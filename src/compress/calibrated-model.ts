import { ShrinkrayError } from '../errors.ts';
import type { Pruner } from '../kernels/prune/index.ts';
import type { RtnQuantizer } from '../kernels/quantize/index.ts';
import type { ModelIR } from '../model/ir.ts';
import { layerRopeTables, scaleInPlace } from '../model/reference-layer-ops.ts';
import type { LayerWeights } from '../model/reference-weights.ts';
import { elementCount, layerTensors, modelTensor, parseTensorName, type LayerTensorKey } from '../model/tensor-table.ts';
import type { CalibBackend } from './calib-backend.ts';
import { BlockRunner } from './block-runner.ts';
import { embeddingRows } from './embedding-rows.ts';
import { layerwiseIr } from './layerwise-ir.ts';
import { compressBlock, type CompressedBlock, type CompressedLinear } from './block-compressor.ts';
import type { CompressionPlan } from './plan.ts';

/**
 * A calibrated compression, block after block in the order the graph builder reads them:
 * block i is compressed on the activations the already compressed blocks 0..i-1 produce
 * (sequential, as GPTQ does). Only one block's weights and the windows' [T, dim]
 * activations (plus a block's intermediates) are alive at once, whatever the depth.
 */
export interface CalibrationInput {
  windows: Int32Array[]; // token ids, one array per window (calibration-windows.ts)
  backend: CalibBackend;
}

export interface CalibrationProgress {
  stage: 'calibrate';
  done: number; // blocks finished
  total: number;
  tensor: string; // what is being done, e.g. 'layer 3'
}

export interface CalibratorOptions {
  quantizer: RtnQuantizer;
  pruner: Pruner;
  signal?: AbortSignal;
  onProgress?: (p: CalibrationProgress) => void;
}

export class ModelCalibrator {
  private next = 0;
  private current: { layer: number; result: Promise<CompressedBlock> } | null = null;
  /** AWQ's chosen exponents per block, for the report. */
  readonly awqAlpha: CompressedBlock['awqAlpha'][] = [];
  /** Time spent in the calibrated blocks (passes and methods). */
  seconds = 0;
  /** The float model's activations, for GPTQ's float targets. */
  private floatStream: Float32Array[] | null;

  private constructor(
    private readonly ir: ModelIR,
    private readonly plan: CompressionPlan,
    private readonly input: CalibrationInput,
    private readonly x: Float32Array[],
    private readonly opts: CalibratorOptions,
  ) {
    const q = plan.recipe.quant;
    this.floatStream = q?.method === 'gptq' && q.floatTargets ? x.map((a) => Float32Array.from(a)) : null;
  }

  /** Embeds every window: the activations entering block 0. */
  static async start(ir: ModelIR, plan: CompressionPlan, input: CalibrationInput, opts: CalibratorOptions): Promise<ModelCalibrator> {
    const c = ir.config;
    if (input.windows.length === 0) throw new ShrinkrayError('bad_argument', 'calibration needs at least one window of tokens');
    const emb = modelTensor(c, 'embedding');
    const handle = ir.tensors.get(emb.name);
    if (!handle) throw new ShrinkrayError('bad_file', `model has no tensor '${emb.name}' (expected shape [${emb.shape.join(', ')}])`);
    const dim = c.hiddenSize;
    const row = await embeddingRows(handle, dim);
    const x = input.windows.map((ids, w) => {
      if (ids.length < 1 || ids.length > c.maxPositionEmbeddings) {
        throw new ShrinkrayError(
          'bad_argument',
          `calibration window ${w} has ${ids.length} tokens; expected 1..${c.maxPositionEmbeddings}`,
        );
      }
      const out = new Float32Array(ids.length * dim);
      ids.forEach((id, t) => {
        if (!(id >= 0 && id < c.vocabSize))
          throw new ShrinkrayError('bad_argument', `calibration window ${w}: token id ${id} is outside the vocabulary [0, ${c.vocabSize})`);
        row(id, out, t * dim);
      });
      return scaleInPlace(out, c.embeddingScale); // Gemma: sqrt(hidden_size)
    });
    return new ModelCalibrator(ir, plan, input, x, opts);
  }

  get tokens(): number {
    return this.input.windows.reduce((n, w) => n + w.length, 0);
  }

  /** Block `layer`, compressed; blocks are done in order, each once. */
  layer(layer: number): Promise<CompressedBlock> {
    if (this.current?.layer === layer) return this.current.result;
    if (layer !== this.next)
      throw new ShrinkrayError('bad_argument', `calibration runs blocks in order: asked for block ${layer}, next is ${this.next}`);
    this.next++;
    const result = this.run(layer);
    this.current = { layer, result };
    return result;
  }

  private async run(layer: number): Promise<CompressedBlock> {
    const { plan, ir, opts } = this;
    const c = plan.configIn;
    const started = performance.now();
    opts.onProgress?.({ stage: 'calibrate', done: layer, total: c.numLayers, tensor: `layer ${layer}` });
    const source = await readLayer(ir, layer);
    const maxT = Math.max(...this.input.windows.map((w) => w.length));
    const rope = layerRopeTables(c, 0, maxT)(layer); // null for a NoPE layer (SmolLM3); Gemma 3's local RoPE on its sliding layers
    const runner = new BlockRunner(this.input.backend, c, source, this.x, rope, opts.signal, layer);
    const result = await compressBlock(layer, source, {
      recipe: plan.recipe,
      configIn: c,
      configOut: plan.configOut,
      runner,
      floatStream: this.floatStream,
      rope,
      kernels: { backend: this.input.backend, quantizer: opts.quantizer, pruner: opts.pruner },
    });
    this.awqAlpha.push(result.awqAlpha);
    this.seconds += (performance.now() - started) / 1000;
    opts.onProgress?.({ stage: 'calibrate', done: layer + 1, total: c.numLayers, tensor: `layer ${layer}` });
    return result;
  }

  /** The compressed form of a linear layer, once its block is done. */
  async linear(name: string): Promise<CompressedLinear | undefined> {
    const { layer } = parseTensorName(name);
    if (layer === null) return undefined;
    return (await this.layer(layer)).linears.get(name);
  }
}

/** The model as the graph builder sees it: blocks come from the calibrator, the rest passes through. */
export function calibratedIr(ir: ModelIR, plan: CompressionPlan, calibrator: ModelCalibrator): ModelIR {
  return layerwiseIr(ir, plan.configOut, async (l) => (await calibrator.layer(l)).tensors);
}

/** One decoder layer's weights, read through the model's handles. */
export async function readLayer(ir: ModelIR, layer: number): Promise<LayerWeights> {
  const w: Partial<Record<LayerTensorKey, Float32Array>> = {};
  for (const t of layerTensors(ir.config, layer)) {
    const h = ir.tensors.get(t.name);
    if (!h) throw new ShrinkrayError('bad_file', `model has no tensor '${t.name}' (expected shape [${t.shape.join(', ')}])`);
    const data = await h.read();
    if (data.length !== elementCount(t.shape))
      throw new ShrinkrayError('bad_file', `tensor '${t.name}' decoded to ${data.length} values; expected shape [${t.shape.join(', ')}]`);
    w[t.key as LayerTensorKey] = data;
  }
  return { qBias: null, kBias: null, vBias: null, qNorm: null, kNorm: null, attnPostNorm: null, ffnPostNorm: null, ...w } as LayerWeights;
}

import { ShrinkrayError } from '../errors.ts';
import type { RtnQuantizer } from '../kernels/quantize/index.ts';
import type { ModelIR } from '../model/ir.ts';
import { layerRopeTables } from '../model/reference-layer-ops.ts';
import { tensorNames, type LinearKind } from '../model/tensor-table.ts';
import { OutputProbe } from './output-probe.ts';
import type { CalibBackend } from './calib-backend.ts';
import { BlockRunner, INPUT_LINEARS } from './block-runner.ts';
import { InputStats } from './calibrate-stats.ts';
import { readLayer, type CalibrationProgress } from './calibrated-model.ts';
import { roundTripHalf, rtnLinear } from './linear-quant.ts';
import { optionBytes, optionsFor, type WidthOption } from './width-menu.ts';
import { embedWindows } from './drop/block-influence.ts';

/**
 * How much each linear matrix suffers at each width, measured on calibration text, in two
 * steps:
 * 1. Layer error, every width: the float model runs over the windows block by block (one pass
 *    each), collecting each layer input's H = XᵀX / tokens; each matrix W [N, K] is rounded at
 *    every width of the menu and scored by
 *      e(w) = tr(ΔW · H · ΔWᵀ),  ΔW = Q_w(W) − W
 *    the squared error the rounding adds to the layer's output per token (what GPTQ
 *    minimises). It ranks one matrix's widths well, but not matrices against each other: q's
 *    output is large and softmax stands between it and the stream; an early block's error
 *    travels through all later ones.
 * 2. Output damage, one width: each matrix alone at its narrowest width, the rest float, on
 *    the probe windows (output-probe.ts): D = mean KL(float ‖ changed) of the next-token
 *    distributions. Each matrix's layer errors are put in those units:
 *      error(w) = e(w) · D / e(narrowest)
 * The knapsack adds them up over matrices (each measured with the others float).
 * Memory: one block's activations over all windows, plus the probe's (output-probe.ts).
 */
export interface MatrixSensitivity {
  name: string;
  shape: [number, number]; // [N, K]
  options: WidthOption[]; // the widths this matrix can take (optionsFor(K)), narrowest first
  bytes: number[]; // stored bytes of each option
  layerErrors: number[]; // e(w) = tr(ΔW H ΔWᵀ) of each option
  damage: number; // D: mean KL per token at the narrowest option, the rest of the model float
  errors: number[]; // e(w) · D / e(narrowest): what the knapsack minimises
}

export interface SensitivityOptions {
  quantizer: RtnQuantizer;
  backend: CalibBackend;
  signal?: AbortSignal;
  onProgress?: (p: CalibrationProgress) => void;
}

/** The probe's windows: their first tokens, while the [T, vocab] log-probabilities fit in this (and at most PROBE_TOKENS). */
export const PROBE_LOGIT_BYTES = 64 * 2 ** 20;
export const PROBE_TOKENS = 4096;

export async function measureSensitivity(ir: ModelIR, windows: Int32Array[], o: SensitivityOptions): Promise<MatrixSensitivity[]> {
  const c = ir.config;
  const x = await embedWindows(ir, windows);
  const maxT = Math.max(...windows.map((w) => w.length));
  const rope = layerRopeTables(c, 0, maxT);
  const probe = new OutputProbe(ir, o.backend, rope);
  const probeTokens = Math.max(1, Math.min(PROBE_TOKENS, Math.floor(PROBE_LOGIT_BYTES / (4 * c.vocabSize))));
  const probeCut = (xs: Float32Array[]): Float32Array[] => {
    const cut: Float32Array[] = [];
    for (let left = probeTokens, i = 0; left > 0 && i < xs.length; i++) {
      const T = Math.min(left, xs[i]!.length / c.hiddenSize); // a window's first tokens are a window (causal)
      cut.push(xs[i]!.subarray(0, T * c.hiddenSize));
      left -= T;
    }
    return cut;
  };
  const out: MatrixSensitivity[] = [];
  const layers = c.numLayers;
  for (let layer = 0; layer < layers; layer++) {
    o.onProgress?.({ stage: 'calibrate', done: layer, total: 2 * layers, tensor: `layer errors of block ${layer}` });
    probe.record(layer, probeCut(x));
    const w = await readLayer(ir, layer);
    const runner = new BlockRunner(o.backend, c, w, x, rope(layer), o.signal, layer);
    for (const input of ['attn', 'o', 'mlp', 'down'] as const) runner.final[input] = true; // the float block: nothing changes
    const width = { attn: c.hiddenSize, o: c.numHeads * c.headDim, mlp: c.hiddenSize, down: c.intermediateSize };
    const stats = {
      attn: new InputStats(width.attn, { gram: true }, o.backend),
      o: new InputStats(width.o, { gram: true }, o.backend),
      mlp: new InputStats(width.mlp, { gram: true }, o.backend),
      down: new InputStats(width.down, { gram: true }, o.backend),
    };
    await runner.pass('out', { attn: stats.attn.sink, o: stats.o.sink, mlp: stats.mlp.sink, down: stats.down.sink }); // x becomes the next block's input
    const names = tensorNames.layer(layer, c);
    for (const input of ['attn', 'o', 'mlp', 'down'] as const) {
      const K = width[input];
      const h = Float32Array.from(stats[input].hessian()); // [K, K], symmetric
      for (const key of INPUT_LINEARS[input]) {
        if (o.signal?.aborted) throw new ShrinkrayError('aborted', 'compression cancelled while measuring sensitivities');
        const weight = w[key];
        const N = weight.length / K;
        const options = optionsFor(K);
        const layerErrors: number[] = [];
        for (const option of options)
          layerErrors.push(await weightedError(weight, await rounded(weight, N, K, option, names[key], o), N, K, h, o.backend));
        const bytes = options.map((op) => optionBytes(N, K, op));
        out.push({ name: names[key], shape: [N, K], options, bytes, layerErrors, damage: 0, errors: [] });
      }
    }
  }
  await probe.finish(probeCut(x));
  for (let layer = 0; layer < layers; layer++) {
    o.onProgress?.({ stage: 'calibrate', done: layers + layer, total: 2 * layers, tensor: `output damage of block ${layer}` });
    const w = await readLayer(ir, layer);
    for (const [i, key] of LINEAR_KEYS.entries()) {
      if (o.signal?.aborted) throw new ShrinkrayError('aborted', 'compression cancelled while measuring sensitivities');
      const m = out[layer * LINEAR_KEYS.length + i]!;
      const narrowest = m.bytes.indexOf(Math.min(...m.bytes));
      m.damage = await probe.damage(layer, key, await rounded(w[key], m.shape[0], m.shape[1], m.options[narrowest]!, m.name, o));
      const scale = m.layerErrors[narrowest]! > 0 ? m.damage / m.layerErrors[narrowest]! : 0;
      m.errors = m.layerErrors.map((e) => e * scale);
    }
  }
  o.onProgress?.({ stage: 'calibrate', done: 2 * layers, total: 2 * layers, tensor: 'sensitivities measured' });
  return out;
}

/** The block's linear matrices in the order measureSensitivity lists them (INPUT_LINEARS' order). */
const LINEAR_KEYS: readonly LinearKind[] = (['attn', 'o', 'mlp', 'down'] as const).flatMap((input) => INPUT_LINEARS[input]);

/** The values W stands for at `option`. */
async function rounded(
  w: Float32Array,
  N: number,
  K: number,
  option: WidthOption,
  name: string,
  o: SensitivityOptions,
): Promise<Float32Array> {
  return option.quant ? (await rtnLinear(w, N, K, option.quant, o.quantizer, name)).values : roundTripHalf(w);
}

/** tr(ΔW H ΔWᵀ) = Σ_n Δw_n · (H Δw_n): one [N, K]·[K, K] product on the calibration kernels, summed in float64. */
async function weightedError(
  w: Float32Array,
  q: Float32Array,
  N: number,
  K: number,
  h: Float32Array,
  backend: CalibBackend,
): Promise<number> {
  const d = new Float32Array(N * K);
  for (let i = 0; i < d.length; i++) d[i] = q[i]! - w[i]!;
  const dh = await backend.linear(d, N, h, K, K, null); // [N, K]: ΔW · Hᵀ = ΔW · H
  let e = 0;
  for (let i = 0; i < d.length; i++) e += d[i]! * dh[i]!;
  return Math.max(e, 0); // H is positive semi-definite; f32 rounding may dip below 0 for tiny ΔW
}

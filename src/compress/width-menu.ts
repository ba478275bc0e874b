import { blobBytes, zeroPointRowBytes } from '../kernels/quantize/index.ts';
import type { ModelConfig } from '../model/config.ts';
import { layerTensors } from '../model/tensor-table.ts';
import type { MixedSpec } from './recipe-steps.ts';

/**
 * The widths mixed precision (`bits{X}`) chooses from for each linear matrix, and what each
 * costs in stored bytes. Every option is a node onnxruntime-web, the CPU engine and
 * transformers.js run: MatMulNBits at 2, 4 or 8 bits (round-to-nearest, block size per node),
 * or a plain MatMul on an fp16 weight. 2-bit is asymmetric only (symmetric 2-bit keeps three
 * levels). The block sizes let the budget fall between the widths: int4-g128 costs 4.25 bits
 * per weight, int4-g32 5.
 *
 * The budget counts everything the matrix stores, because bytes are what the user pays:
 * codes, fp32 scales (MatMulNBits' scales match the graph's fp32 activations) and packed
 * zero points, K padded up to whole blocks. So `int4-g32` is 5 bits per weight, `int8-g32` 9,
 * `int2-g32-asym` 3.0625, fp16 16; `bits5` has int4-g32's bytes.
 */
export interface WidthOption {
  label: string; // 'int4-g32', 'int2-g64-asym', 'fp16': the per-tensor kind in reports
  quant: { bits: number; blockSize: number; symmetric: boolean } | null; // null: dense fp16
}

const nbits = (bits: number, blockSize: number, symmetric: boolean): WidthOption => ({
  label: `int${bits}-g${blockSize}${symmetric ? '' : '-asym'}`,
  quant: { bits, blockSize, symmetric },
});

/** Cheapest first. */
export const WIDTH_MENU: readonly WidthOption[] = Object.freeze([
  nbits(2, 128, false), // 2.27 bits per weight at K = 128·n
  nbits(2, 64, false), // 2.53
  nbits(2, 32, false), // 3.06
  nbits(4, 128, true), // 4.25
  nbits(4, 64, true), // 4.5
  nbits(4, 64, false), // 4.56
  nbits(4, 32, true), // 5
  nbits(4, 32, false), // 5.13
  nbits(8, 128, true), // 8.25
  nbits(8, 32, true), // 9
  { label: 'fp16', quant: null }, // 16
]);

/** The least and greatest `bits{X}` there is. */
export const MIXED_BITS_RANGE = Object.freeze({ min: 2, max: 16 });

/** The options a [N, K] matrix can take: no block wider than the row (as the int step requires). */
export function optionsFor(K: number): WidthOption[] {
  return WIDTH_MENU.filter((o) => !o.quant || o.quant.blockSize <= K);
}

/** Stored bytes of a [N, K] matrix at `o` (the layout of plan.ts's matMulNBitsBytes with fp32 scales). */
export function optionBytes(N: number, K: number, o: WidthOption): number {
  if (!o.quant) return N * K * 2;
  const { bits, blockSize, symmetric } = o.quant;
  const blocks = Math.ceil(K / blockSize);
  return N * blocks * blobBytes(blockSize, bits) + N * blocks * 4 + (symmetric ? 0 : N * zeroPointRowBytes(blocks, bits));
}

/** The byte budget of `bits{X}` for the linear matrices of `config`: floor(X · weights / 8). */
export function mixedBudget(spec: MixedSpec, config: ModelConfig): { budget: number; weights: number; least: number } {
  let weights = 0;
  let least = 0;
  for (let l = 0; l < config.numLayers; l++) {
    for (const t of layerTensors(config, l)) {
      if (t.role !== 'linear') continue;
      const [N, K] = t.shape as [number, number];
      weights += N * K;
      least += Math.min(...optionsFor(K).map((o) => optionBytes(N, K, o)));
    }
  }
  return { budget: Math.floor((spec.bitsPerWeight * weights) / 8), weights, least };
}

/** What stops `bits{X}` from applying to a model with `config` (empty when it fits). */
export function mixedProblems(
  r: { mixed?: MixedSpec | null; structured: unknown; mask: unknown; lowRank?: unknown },
  config: ModelConfig,
): string[] {
  if (!r.mixed) return [];
  const step = `bits${r.mixed.bitsPerWeight}`;
  if (r.lowRank) {
    // The widths are chosen for whole matrices; a factorised layer is two other matrices.
    return [`${step} chooses a width for each of the model's own matrices; it does not combine with lr (quantize the factors with int{B})`];
  }
  if (r.structured || r.mask) {
    // The sensitivities are measured on the model as given; pruning first would need them re-measured on the pruned one.
    return [
      `${step} chooses widths for the model's own matrices; it does not combine with pruning steps (ffn, heads, mag, N:M, wanda, sparsegpt)`,
    ];
  }
  const { budget, weights, least } = mixedBudget(r.mixed, config);
  if (weights > 0 && budget < least) {
    const min = Math.ceil(((least * 8) / weights) * 100) / 100;
    return [`${step} gives the linear layers ${budget} bytes, less than the ${least} of their narrowest widths; use at least bits${min}`];
  }
  return [];
}

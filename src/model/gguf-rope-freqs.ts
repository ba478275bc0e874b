import { ShrinkrayError } from '../errors.ts';
import type { Llama3RopeScaling } from './config.ts';

/**
 * Llama 3.x GGUF files carry no rope_scaling keys. llama.cpp's converter (convert_hf_to_gguf.py,
 * LlamaModel.generate_extra_tensors) writes the tensor rope_freqs.weight instead: one divisor per
 * rotated pair, which llama.cpp's RoPE divides that pair's frequency by. It is 1 for short waves,
 * `factor` for long ones, and 1 / ((1 - smooth) / factor + smooth) between, computed from the
 * config's llama3 rope_scaling (factor, low_freq_factor, high_freq_factor) and
 * original_max_position_embeddings. The converter reads that last one at the config's top level,
 * 8192 when it is absent there. Frequencies are float32 (torch) and so are the divisors.
 *
 * Only the ratios original/low and original/high shape the divisors, so the tensor cannot tell
 * (8192, 1, 4) from (16384, 2, 8). The inverse keeps original_max_position_embeddings at the
 * converter's 8192, takes the largest divisor as factor, and looks for low and high that give the
 * divisors: first the pair every published Llama 3.1/3.2 uses (1, 4), then the pair the blended
 * divisors fit. A candidate is taken only when it gives back every divisor within float32
 * rounding of its frequency.
 */
export const ROPE_FREQS_TENSOR = 'rope_freqs.weight';

const CONVERTER_ORIGINAL_CONTEXT = 8192;
const PUBLISHED = Object.freeze({ lowFreqFactor: 1, highFreqFactor: 4 });
/** Float32 rounding of the converter's frequencies (torch float32 pow: a few ulps), and of the stored divisor. */
const FREQ_EPS = 2 ** -20;
const VALUE_EPS = 2 ** -22;

/** The divisor the converter writes for a pair whose RoPE inverse frequency is `freq`. */
function divisor(freq: number, s: Llama3RopeScaling): number {
  const wavelen = (2 * Math.PI) / freq;
  const orig = s.originalMaxPositionEmbeddings;
  if (wavelen < orig / s.highFreqFactor) return 1;
  if (wavelen > orig / s.lowFreqFactor) return s.factor;
  const smooth = (orig / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return 1 / ((1 - smooth) / s.factor + smooth);
}

/**
 * The first pair whose stored divisor no frequency within float32 rounding of its own gives, or -1.
 * The divisor falls as the frequency rises, so the three evaluations bound it.
 */
function firstMismatch(divisors: Float32Array, freqs: Float64Array, s: Llama3RopeScaling): number {
  for (let i = 0; i < freqs.length; i++) {
    const around = [freqs[i]! * (1 - FREQ_EPS), freqs[i]!, freqs[i]! * (1 + FREQ_EPS)].map((f) => divisor(f, s));
    const got = divisors[i]!;
    if (!(got >= Math.min(...around) * (1 - VALUE_EPS) && got <= Math.max(...around) * (1 + VALUE_EPS))) return i;
  }
  return -1;
}

/** The shortest decimal (up to 9 digits) of `v` for which `ok` holds, else `v`: 4, not 3.9999998. */
function shortest(v: number, ok: (x: number) => boolean): number {
  for (let digits = 1; digits <= 9; digits++) {
    const x = Number(v.toPrecision(digits));
    if (ok(x)) return x;
  }
  return v;
}

/**
 * (low, high) guesses from the divisors. smooth is linear in x = original / wavelength, so two
 * blended pairs fix low and high. With one blended pair or none, every line through it (or
 * through the gap between the last kept and the first stretched pair) gives the same table: the
 * published low, then the published high, then the middle of what the neighbours allow.
 */
function guesses(divisors: Float32Array, freqs: Float64Array, factor: number): [number, number][] {
  const x = (i: number) => (CONVERTER_ORIGINAL_CONTEXT * freqs[i]!) / (2 * Math.PI);
  const smooth = (i: number) => (1 / divisors[i]! - 1 / factor) / (1 - 1 / factor);
  const kept: number[] = [];
  const blended: number[] = [];
  const stretched: number[] = [];
  divisors.forEach((d, i) => (d <= 1 + 1e-6 ? kept : d >= factor * (1 - 1e-6) ? stretched : blended).push(i));
  const xKept = kept.length > 0 ? x(kept.at(-1)!) : Infinity; // high lies below it
  const xStretched = stretched.length > 0 ? x(stretched[0]!) : 0; // low lies above it
  if (blended.length >= 2) {
    const [a, b] = [blended[0]!, blended.at(-1)!];
    const span = (x(a) - x(b)) / (smooth(a) - smooth(b));
    const low = x(a) - smooth(a) * span;
    return [[low, low + span]];
  }
  if (blended.length === 1) {
    const [xm, sm] = [x(blended[0]!), smooth(blended[0]!)];
    const most = Math.min((xKept - xm) / (1 - sm), (xm - xStretched) / sm);
    const fromLow = (xm - PUBLISHED.lowFreqFactor) / sm;
    const fromHigh = (PUBLISHED.highFreqFactor - xm) / (1 - sm);
    return [fromLow, fromHigh, most / 2].map((span): [number, number] => [xm - sm * span, xm + (1 - sm) * span]);
  }
  const gap = xKept - xStretched;
  return Number.isFinite(gap) ? [[xStretched + gap / 3, xStretched + (2 * gap) / 3]] : [];
}

/**
 * The llama3 rope scaling that rope_freqs.weight (one divisor per pair of a head of `headDim`
 * rotated values) came from; undefined when every divisor is 1 (plain RoPE). Refuses, naming the
 * tensor, a tensor that no llama3 parameters give.
 */
export function llama3ScalingFromRopeFreqs(
  divisors: Float32Array,
  ropeTheta: number,
  headDim: number,
  where: string,
): Llama3RopeScaling | undefined {
  const half = headDim / 2;
  if (divisors.length !== half)
    throw new ShrinkrayError(
      'bad_file',
      `${where}: tensor '${ROPE_FREQS_TENSOR}' holds ${divisors.length} values, but RoPE over a head of ${headDim} turns ${half} pairs`,
    );
  if (divisors.every((d) => d === 1)) return undefined;
  const freqs = Float64Array.from({ length: half }, (_, i) => 1 / Math.pow(ropeTheta, (2 * i) / headDim));
  const factor = shortest(Math.max(...divisors), (x) => Math.fround(x) === Math.max(...divisors));
  const scaling = (lowFreqFactor: number, highFreqFactor: number): Llama3RopeScaling => ({
    ropeType: 'llama3',
    factor,
    lowFreqFactor,
    highFreqFactor,
    originalMaxPositionEmbeddings: CONVERTER_ORIGINAL_CONTEXT,
  });
  const fits = (low: number, high: number) =>
    factor >= 1 && low > 0 && high > low && firstMismatch(divisors, freqs, scaling(low, high)) < 0;
  const published = scaling(PUBLISHED.lowFreqFactor, PUBLISHED.highFreqFactor);
  if (fits(published.lowFreqFactor, published.highFreqFactor)) return published;
  for (const [low, high] of guesses(divisors, freqs, factor)) {
    // The shortest decimals that still give the table: 2, not 1.9999999.
    const lowShort = shortest(low, (v) => fits(v, high));
    const highShort = shortest(high, (v) => fits(lowShort, v));
    if (fits(lowShort, highShort)) return scaling(lowShort, highShort);
  }
  const i = Math.max(0, firstMismatch(divisors, freqs, published));
  throw new ShrinkrayError(
    'bad_file',
    `${where}: tensor '${ROPE_FREQS_TENSOR}' is not Llama 3 RoPE scaling: no rope_type llama3 factor, low_freq_factor and ` +
      `high_freq_factor (original_max_position_embeddings ${CONVERTER_ORIGINAL_CONTEXT}, as llama.cpp's converter assumes) give its ` +
      `${half} divisors within float32 rounding (pair ${i} holds ${divisors[i]}; factor ${factor}, low 1, high 4 would give ${divisor(freqs[i]!, published)})`,
  );
}

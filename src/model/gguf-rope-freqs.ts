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
 * converter's 8192 and looks for factor, low and high that give the divisors: first the pair every
 * published Llama 3.1/3.2 uses (1, 4), then the pair fitted from the blended divisors. A candidate
 * is taken only when it gives back every divisor within float32 rounding of its frequency.
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

/** low and high from the first and last blended pairs: smooth is linear in original / wavelength. */
function fitted(divisors: Float32Array, freqs: Float64Array, factor: number): Llama3RopeScaling | null {
  const blended: number[] = [];
  for (let i = 0; i < freqs.length; i++) if (divisors[i]! > 1 + 1e-6 && divisors[i]! < factor * (1 - 1e-6)) blended.push(i);
  if (blended.length < 2) return null;
  const point = (i: number) => ({
    x: (CONVERTER_ORIGINAL_CONTEXT * freqs[i]!) / (2 * Math.PI),
    smooth: (1 / divisors[i]! - 1 / factor) / (1 - 1 / factor),
  });
  const a = point(blended[0]!);
  const b = point(blended.at(-1)!);
  if (a.smooth === b.smooth) return null;
  const span = (a.x - b.x) / (a.smooth - b.smooth);
  const low = a.x - a.smooth * span;
  const scaling = (lowFreqFactor: number, highFreqFactor: number): Llama3RopeScaling => ({
    ropeType: 'llama3',
    factor,
    lowFreqFactor,
    highFreqFactor,
    originalMaxPositionEmbeddings: CONVERTER_ORIGINAL_CONTEXT,
  });
  const fits = (s: Llama3RopeScaling) => s.lowFreqFactor > 0 && s.highFreqFactor > s.lowFreqFactor && firstMismatch(divisors, freqs, s) < 0;
  const lowShort = shortest(low, (x) => fits(scaling(x, low + span)));
  return scaling(
    lowShort,
    shortest(low + span, (x) => fits(scaling(lowShort, x))),
  );
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
  const published: Llama3RopeScaling = {
    ropeType: 'llama3',
    factor,
    ...PUBLISHED,
    originalMaxPositionEmbeddings: CONVERTER_ORIGINAL_CONTEXT,
  };
  for (const s of [published, fitted(divisors, freqs, factor)]) {
    if (s && factor >= 1 && s.highFreqFactor > s.lowFreqFactor && s.lowFreqFactor > 0 && firstMismatch(divisors, freqs, s) < 0) return s;
  }
  const i = Math.max(0, firstMismatch(divisors, freqs, published));
  throw new ShrinkrayError(
    'bad_file',
    `${where}: tensor '${ROPE_FREQS_TENSOR}' is not Llama 3 RoPE scaling: no rope_type llama3 factor, low_freq_factor and ` +
      `high_freq_factor (original_max_position_embeddings ${CONVERTER_ORIGINAL_CONTEXT}, as llama.cpp's converter assumes) give its ` +
      `${half} divisors within float32 rounding (pair ${i} holds ${divisors[i]}; factor ${factor}, low 1, high 4 would give ${divisor(freqs[i]!, published)})`,
  );
}

import { ShrinkrayError } from '../errors.ts';

/**
 * How the next token is picked from a row of logits, in Hugging Face's order:
 * repetition penalty -> temperature -> top-k -> top-p -> draw.
 */
export interface SamplerOptions {
  temperature?: number; // 0 (default) = greedy: the argmax, no randomness
  topK?: number; // keep the k most likely tokens; 0 or absent = all
  topP?: number; // keep the smallest set whose probability reaches p; 1 or absent = all
  repetitionPenalty?: number; // > 1 discourages tokens already in the sequence; 1 = off
  seed?: number; // seeds the PRNG: the same seed gives the same tokens
}

/** A seeded uniform generator on [0, 1): mulberry32, 32 bits of state. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the largest logit; the first one on ties (like numpy). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * CTRL-style penalty as in Hugging Face: for each distinct earlier token, a positive logit
 * is divided by `penalty` and a negative one multiplied, so either way it becomes less
 * likely. Returns a copy.
 */
export function applyRepetitionPenalty(logits: Float32Array, previous: readonly number[], penalty: number): Float32Array {
  const out = Float32Array.from(logits);
  if (penalty === 1) return out;
  for (const id of new Set(previous)) {
    if (id < 0 || id >= out.length) continue;
    const l = out[id]!;
    out[id] = l > 0 ? l / penalty : l * penalty;
  }
  return out;
}

/**
 * The tokens still allowed after top-k and top-p, with their probabilities at `temperature`
 * (renormalised, float64). Sorted from most to least likely.
 */
export function candidateDistribution(
  logits: Float32Array,
  temperature: number,
  topK = 0,
  topP = 1,
): { ids: number[]; probs: Float64Array } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  // Tokens more than e^50 times less likely than the best carry < 1e-21 of the mass each;
  // dropping them before the sort keeps large vocabularies (150k) fast at no visible cost.
  let ids: number[] = [];
  for (let i = 0; i < logits.length; i++) if ((logits[i]! - max) / temperature > -50) ids.push(i);
  if (ids.length === 0) ids.push(argmax(logits)); // all -Infinity or NaN: fall back to greedy
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (topK > 0 && topK < ids.length) ids = ids.slice(0, topK);
  let probs = Float64Array.from(ids, (id) => Math.exp((logits[id]! - max) / temperature));
  let sum = probs.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    // Smallest prefix whose mass reaches topP; never empty.
    let cumulative = 0;
    let keep = 0;
    while (keep < ids.length && cumulative < topP * sum) cumulative += probs[keep++]!;
    ids = ids.slice(0, Math.max(1, keep));
    probs = probs.slice(0, ids.length);
    sum = probs.reduce((a, b) => a + b, 0);
  }
  for (let i = 0; i < probs.length; i++) probs[i]! /= sum;
  return { ids, probs };
}

function validate(opts: SamplerOptions): void {
  const { temperature = 0, topK = 0, topP = 1, repetitionPenalty = 1 } = opts;
  if (!(temperature >= 0)) throw new ShrinkrayError('bad_argument', `temperature must be >= 0, got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new ShrinkrayError('bad_argument', `topK must be an integer >= 0, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new ShrinkrayError('bad_argument', `topP must be in (0, 1], got ${topP}`);
  if (!(repetitionPenalty > 0)) {
    throw new ShrinkrayError('bad_argument', `repetitionPenalty must be > 0, got ${repetitionPenalty}`);
  }
}

/**
 * Picks one token id. `previous` is the sequence so far (prompt included), used by the
 * repetition penalty; `rng` supplies the randomness when temperature > 0.
 */
export function sampleToken(
  logits: Float32Array,
  opts: SamplerOptions,
  rng: () => number,
  previous: readonly number[] = [],
): number {
  validate(opts);
  const { temperature = 0, topK = 0, topP = 1, repetitionPenalty = 1 } = opts;
  const penalised = applyRepetitionPenalty(logits, previous, repetitionPenalty);
  if (temperature === 0) return argmax(penalised);
  const { ids, probs } = candidateDistribution(penalised, temperature, topK, topP);
  const r = rng();
  let cumulative = 0;
  for (let i = 0; i < ids.length; i++) {
    cumulative += probs[i]!;
    if (r < cumulative) return ids[i]!;
  }
  return ids[ids.length - 1]!; // r rounded past the last cumulative sum
}

/** A sampler holding its own seeded PRNG, so one generation is reproducible end to end. */
export class Sampler {
  private readonly rng: () => number;
  constructor(readonly options: SamplerOptions = {}) {
    validate(options);
    this.rng = createRng(options.seed ?? 0);
  }
  next(logits: Float32Array, previous: readonly number[] = []): number {
    return sampleToken(logits, this.options, this.rng, previous);
  }
}

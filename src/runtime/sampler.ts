import { ShrinkrayError } from '../errors.ts';
import { createRng } from '../kernels/seeded-rng.ts';

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

/** The sampler's seeded generator (mulberry32), shared with the calibration windows. */
export { createRng };

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
  const out = logits.slice();
  if (penalty === 1) return out;
  for (const id of new Set(previous)) {
    if (id < 0 || id >= out.length) continue;
    const l = out[id]!;
    out[id] = l > 0 ? l / penalty : l * penalty;
  }
  return out;
}

function maxOf(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  return max;
}

/** The k-th largest value (k ≥ 1) of `values`, which it reorders: quickselect, O(n). */
function kthLargest(values: Float32Array, k: number): number {
  const target = values.length - k; // its index in ascending order
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i++] = values[j]!;
        values[j--] = t;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break; // values[j+1 .. i-1] all equal the pivot
  }
  return values[target]!;
}

const byLogitDesc = (logits: Float32Array) => (a: number, b: number) => logits[b]! - logits[a]! || a - b;

/** Ids of the `count` largest logits, most likely first (ties: lower id first). */
function topIds(logits: Float32Array, count: number): number[] {
  const finite = logits.slice(); // (Float32Array.from with a map function is 50x slower)
  for (let i = 0; i < finite.length; i++) if (Number.isNaN(finite[i]!)) finite[i] = -Infinity;
  const threshold = kthLargest(finite, Math.min(count, logits.length));
  const above: number[] = [];
  const ties: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    if (logits[i]! > threshold) above.push(i);
    else if (logits[i]! === threshold) ties.push(i);
  }
  return above.concat(ties.slice(0, count - above.length)).sort(byLogitDesc(logits));
}

/**
 * The shortest prefix of the most likely tokens whose mass reaches topP of `total`.
 * Language-model nuclei are small, so it looks among the top 256 first, then 8x more.
 */
function nucleus(
  logits: Float32Array,
  pool: number[] | null, // candidates, most likely first; null = the whole vocabulary
  weight: (id: number) => number,
  total: number,
  topP: number,
): number[] {
  const size = pool?.length ?? logits.length;
  for (let probe = Math.min(size, 256); ; probe = Math.min(size, probe * 8)) {
    const prefix = pool ? pool.slice(0, probe) : topIds(logits, probe);
    let cumulative = 0;
    for (let n = 0; n < prefix.length; n++) {
      cumulative += weight(prefix[n]!);
      if (cumulative >= topP * total) return prefix.slice(0, n + 1);
    }
    if (probe === size) return prefix; // rounding kept the sum just short of topP·total
  }
}

/**
 * The tokens still allowed after top-k and top-p, with their probabilities at `temperature`
 * (renormalised, float64), most likely first (ties: lower id first). Top-p keeps the
 * smallest such prefix whose mass reaches topP.
 */
export function candidateDistribution(
  logits: Float32Array,
  temperature: number,
  topK = 0,
  topP = 1,
): { ids: number[]; probs: Float64Array } {
  const max = maxOf(logits);
  const weight = (id: number) => Math.exp((logits[id]! - max) / temperature);
  let ids: number[] | null = topK > 0 && topK < logits.length ? topIds(logits, topK) : null;
  if (topP < 1) {
    let total = 0;
    if (ids) for (const id of ids) total += weight(id);
    else for (let i = 0; i < logits.length; i++) total += weight(i);
    ids = nucleus(logits, ids, weight, total, topP);
  }
  if (!ids) {
    // Tokens more than e^50 times less likely than the best carry < 1e-21 of the mass
    // each; dropping them before the sort keeps a 150k vocabulary fast.
    ids = [];
    for (let i = 0; i < logits.length; i++) if ((logits[i]! - max) / temperature > -50) ids.push(i);
    ids.sort(byLogitDesc(logits));
  }
  if (ids.length === 0) ids = [argmax(logits)]; // all -Infinity or NaN: fall back to greedy
  const probs = new Float64Array(ids.length);
  let sum = 0;
  for (let i = 0; i < ids.length; i++) sum += probs[i] = weight(ids[i]!);
  for (let i = 0; i < probs.length; i++) probs[i]! /= sum;
  return { ids, probs };
}

/** A draw from softmax(logits / temperature) over the whole vocabulary, with no sort. */
function drawFull(logits: Float32Array, temperature: number, r: number): number {
  const max = maxOf(logits);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i]! - max) / temperature);
  let remaining = r * sum;
  let last = argmax(logits);
  for (let i = 0; i < logits.length; i++) {
    const p = Math.exp((logits[i]! - max) / temperature);
    if (p === 0) continue;
    last = i;
    remaining -= p;
    if (remaining < 0) return i;
  }
  return last; // r·sum rounded past the end
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
export function sampleToken(logits: Float32Array, opts: SamplerOptions, rng: () => number, previous: readonly number[] = []): number {
  validate(opts);
  const { temperature = 0, topK = 0, topP = 1, repetitionPenalty = 1 } = opts;
  const penalised = applyRepetitionPenalty(logits, previous, repetitionPenalty);
  if (temperature === 0) return argmax(penalised);
  if (topK === 0 && topP === 1) return drawFull(penalised, temperature, rng());
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

/**
 * The distribution sampleToken draws from at temperature > 0, over the whole vocabulary
 * (float64, zero outside top-k/top-p): what speculative sampling compares between the draft and
 * the original.
 */
export function tokenDistribution(logits: Float32Array, opts: SamplerOptions, previous: readonly number[] = []): Float64Array {
  validate(opts);
  const { temperature = 0, topK = 0, topP = 1, repetitionPenalty = 1 } = opts;
  if (!(temperature > 0)) throw new ShrinkrayError('bad_argument', `a token distribution needs temperature > 0, got ${temperature}`);
  const penalised = applyRepetitionPenalty(logits, previous, repetitionPenalty);
  const out = new Float64Array(logits.length);
  if (topK === 0 && topP === 1) {
    const max = maxOf(penalised);
    let sum = 0;
    for (let i = 0; i < penalised.length; i++) sum += out[i] = Math.exp((penalised[i]! - max) / temperature);
    for (let i = 0; i < out.length; i++) out[i]! /= sum;
    return out;
  }
  const { ids, probs } = candidateDistribution(penalised, temperature, topK, topP);
  ids.forEach((id, i) => (out[id] = probs[i]!));
  return out;
}

/** A draw from weights (not necessarily summing to 1) with r uniform in [0, 1). */
export function drawFrom(weights: Float64Array, r: number): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += weights[i]!;
  let remaining = r * sum;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i]! <= 0) continue;
    last = i;
    remaining -= weights[i]!;
    if (remaining < 0) return i;
  }
  return last; // r·sum rounded past the end
}

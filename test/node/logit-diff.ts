// Comparing logits of two engines, for the tests that check a graph against the reference.
import { argmax } from '../../src/runtime/sampler.ts';
import type { CausalLM } from '../../src/model/causal-lm.ts';

/** Largest |a[i] - b[i]|; arrays of different lengths are a test failure. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/**
 * Worst |got - want| over the rows `want[from]`, `want[from + 1]`, ... that `got` (rows of
 * want's width, one after another) covers, relative to the largest |logit| in all of `want`:
 * how the tests hold a runner to an independent forward's logits (BUDGET.independentVsEngineRelative).
 */
export function relativeLogitDiff(got: ArrayLike<number>, want: number[][], from = 0): number {
  const vocab = want[0]!.length;
  const scale = Math.max(...want.flat().map(Math.abs));
  let d = 0;
  for (let r = 0; r < got.length / vocab; r++)
    for (let j = 0; j < vocab; j++) d = Math.max(d, Math.abs(got[r * vocab + j]! - want[from + r]![j]!));
  return d / scale;
}

/**
 * Prefills `prompt` on both models, then takes `steps` greedy decode steps (the reference
 * picks each token); returns the worst logit difference per phase. Also checks that the
 * engine's cache grew by exactly what it was fed.
 */
export async function compareDecoding(
  ref: CausalLM,
  engine: CausalLM,
  prompt: number[],
  steps: number,
): Promise<{ prefill: number; decode: number }> {
  const vocab = ref.config.vocabSize;
  const rs = ref.createState();
  const es = engine.createState();
  let want = await ref.forward(rs, prompt);
  const prefill = maxAbsDiff(await engine.forward(es, prompt), want);
  let decode = 0;
  for (let i = 0; i < steps; i++) {
    const next = argmax(want.subarray(want.length - vocab));
    want = await ref.forward(rs, [next]);
    decode = Math.max(decode, maxAbsDiff(await engine.forward(es, [next]), want));
  }
  if (es.length !== prompt.length + steps) throw new Error(`engine state holds ${es.length} positions, expected ${prompt.length + steps}`);
  return { prefill, decode };
}

/** The logit rows that predict each token of `continuation`: the prompt in one pass (its last row), then the rest token by token. */
export async function teacherForcedLogits(model: CausalLM, prompt: number[], continuation: number[]): Promise<Float32Array[]> {
  const vocab = model.config.vocabSize;
  const state = model.createState();
  let logits = await model.forward(state, prompt);
  const rows = [logits.slice(logits.length - vocab)];
  for (const id of continuation.slice(0, -1)) {
    logits = await model.forward(state, [id]);
    rows.push(logits.slice(logits.length - vocab));
  }
  return rows;
}

/** The worst |a - b| over rows of two runs, and the first row where it is reached (for the failure message). */
export function worstRowDiff(a: Float32Array[], b: Float32Array[]): { diff: number; row: number } {
  if (a.length !== b.length) throw new Error(`rows ${a.length} != ${b.length}`);
  let worst = { diff: 0, row: 0 };
  a.forEach((row, i) => {
    const diff = maxAbsDiff(row, b[i]!);
    if (diff > worst.diff) worst = { diff, row: i };
  });
  return worst;
}

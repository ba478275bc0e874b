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

import { ShrinkrayError } from '../errors.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { isAbort, lastRow, prefill, type GenerateOptions, type GenerateResult } from './generate.ts';
import { createRng, drawFrom, Sampler, tokenDistribution, type SamplerOptions } from './sampler.ts';

/**
 * Speculative decoding with a draft model (Leviathan et al. 2023; Chen et al. 2023): the draft
 * proposes k tokens one at a time, the original (the target) checks them all in ONE forward
 * pass over [last accepted, d1..dk], keeps a prefix of them plus one token of its own, and both
 * KV caches are cut back to what was kept.
 * - Greedy (temperature 0): a proposal is kept while it is the target's own argmax. Every token
 *   is the target's greedy pick, so the output is exactly the target's plain greedy output.
 * - Sampling: the draft draws d from its distribution q (temperature, top-k, top-p and the
 *   repetition penalty applied as for the target); the target keeps d with probability
 *   min(1, p(d)/q(d)), else draws its token from max(0, p - q) renormalised and the round ends;
 *   after k kept proposals it draws one more from p. Each token then follows p exactly (the
 *   papers' theorem), though not the same draws as generate() with the same seed.
 */
export interface DraftedOptions extends GenerateOptions {
  /** Tokens the draft proposes per round (default DEFAULT_DRAFT_TOKENS). */
  draftTokens?: number;
}

export const DEFAULT_DRAFT_TOKENS = 4;
export const MAX_DRAFT_TOKENS = 32;

export interface DraftedResult extends GenerateResult {
  /** For drafted generation: the tokens the rounds after the prefill produced (decodeMs covers them). */
  decodeSteps: number;
  /** The target's forward calls: the prompt's pass (counted once, however it was chunked) and one per round. */
  targetPasses: number;
  /** The draft's forward calls, its prompt pass counted once. */
  draftPasses: number;
  /** Draft tokens proposed, and how many of them the target agreed with. */
  proposed: number;
  accepted: number;
}

/** Acceptance rate and the target's passes per generated token, as the CLI and the chat report them. */
export function draftedFigures(r: DraftedResult): { acceptanceRate: number; targetPassesPerToken: number } {
  return {
    acceptanceRate: r.proposed > 0 ? r.accepted / r.proposed : 0,
    targetPassesPerToken: r.ids.length > 0 ? r.targetPasses / r.ids.length : 0,
  };
}

function checkOptions(target: CausalLM, draft: CausalLM, opts: DraftedOptions): number {
  const k = opts.draftTokens ?? DEFAULT_DRAFT_TOKENS;
  if (!Number.isInteger(k) || k < 1 || k > MAX_DRAFT_TOKENS) {
    throw new ShrinkrayError('bad_argument', `draft tokens must be an integer from 1 to ${MAX_DRAFT_TOKENS}, got ${k}`);
  }
  if (draft.config.vocabSize !== target.config.vocabSize) {
    throw new ShrinkrayError(
      'bad_argument',
      `the draft's vocabulary has ${draft.config.vocabSize} entries, the original's ${target.config.vocabSize}: a draft must share the original's tokenizer`,
    );
  }
  return k;
}

/**
 * Greedy generation of `target`, drafted by `draft`. Stops, limits and cancelling behave as in
 * generate(): the same ids, the same stoppedBy.
 */
export async function generateDrafted(
  target: CausalLM,
  draft: CausalLM,
  promptIds: readonly number[],
  opts: DraftedOptions,
): Promise<DraftedResult> {
  const k = checkOptions(target, draft, opts);
  const { maxNewTokens, stopTokenIds = [], onToken, signal } = opts;
  if (promptIds.length === 0) throw new ShrinkrayError('bad_argument', 'generate needs at least one prompt token (BOS)');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new ShrinkrayError('bad_argument', `maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
  }
  const contextLength = target.config.maxPositionEmbeddings;
  const draftContext = draft.config.maxPositionEmbeddings;
  if (promptIds.length > Math.min(contextLength, draftContext)) {
    throw new ShrinkrayError(
      'bad_argument',
      `the prompt has ${promptIds.length} tokens; the context length is ${contextLength} (the draft's ${draftContext})`,
    );
  }
  const vocab = target.config.vocabSize;
  const rule = (opts.temperature ?? 0) > 0 ? samplingRule(opts) : greedyRule(opts);
  const stops = new Set(stopTokenIds);
  const sequence = [...promptIds];
  const r: DraftedResult = {
    ids: [],
    stoppedBy: 'length',
    prefillMs: 0,
    decodeMs: 0,
    decodeSteps: 0,
    targetPasses: 0,
    draftPasses: 0,
    proposed: 0,
    accepted: 0,
  };
  const done = (stoppedBy: GenerateResult['stoppedBy']): DraftedResult => ({ ...r, stoppedBy });
  /** The same checks, in the same order, as generate() makes after each pick. */
  const emit = (id: number): GenerateResult['stoppedBy'] | null => {
    if (stops.has(id)) return 'eos';
    r.ids.push(id);
    sequence.push(id);
    onToken?.(id);
    return r.ids.length >= maxNewTokens || sequence.length >= contextLength ? 'length' : null;
  };

  const t = target.createState();
  const d = draft.createState();
  try {
    if (signal?.aborted) return done('abort');
    if (maxNewTokens === 0) return done('length');
    const t0 = performance.now();
    const first = rule.verify(await prefill(target, t, promptIds, signal), sequence).id;
    await prefill(draft, d, promptIds, signal);
    r.targetPasses++;
    r.draftPasses++;
    r.prefillMs = performance.now() - t0;
    const stop = emit(first);
    if (stop) return done(stop);
    for (;;) {
      if (signal?.aborted) return done('abort');
      const t1 = performance.now();
      const before = r.ids.length;
      const stopped = await round(
        Math.min(k, maxNewTokens - r.ids.length - 1, contextLength - sequence.length, draftContext - sequence.length + 1),
      );
      r.decodeMs += performance.now() - t1;
      r.decodeSteps += r.ids.length - before;
      if (stopped) return done(stopped);
    }
  } catch (e) {
    if (isAbort(e, signal)) return done('abort');
    throw e;
  } finally {
    t.dispose();
    d.dispose();
  }

  /**
   * One round with `n` proposals. On entry both caches hold sequence[0 .. len-1) at most; the
   * last token (and, after a fully accepted round, the draft's own last proposal) is not fed yet.
   */
  async function round(n: number): Promise<GenerateResult['stoppedBy'] | null> {
    const last = sequence[sequence.length - 1]!;
    if (n <= 0) {
      // No room for a proposal (the token limit or the context is one away): a plain step.
      r.targetPasses++;
      return emit(rule.verify(lastRow(await target.forward(t, [last], signal), vocab), sequence).id);
    }
    const proposals: Proposal[] = [];
    const context = [...sequence];
    let feed = sequence.slice(d.length);
    for (let i = 0; i < n; i++) {
      const next = rule.propose(lastRow(await draft.forward(d, feed, signal), vocab), context);
      r.draftPasses++;
      proposals.push(next);
      context.push(next.id);
      feed = [next.id];
    }
    r.proposed += n;
    // Row i of the verification predicts the token after [.., last, d1..di].
    const rows = await target.forward(t, [last, ...proposals.map((p) => p.id)], signal);
    r.targetPasses++;
    for (let i = 0; i <= n; i++) {
      const { id, kept } = rule.verify(rows.subarray(i * vocab, (i + 1) * vocab), sequence, proposals[i]);
      if (kept) r.accepted++;
      const stop = emit(id);
      if (stop) return stop; // the states are dropped: no need to cut them
      if (!kept) break;
    }
    // Keep the positions of the tokens now in the sequence, all but its (unfed) last one.
    await target.truncate(t, sequence.length - 1);
    await draft.truncate(d, Math.min(d.length, sequence.length - 1));
    return null;
  }
}

/** A draft token, with the distribution it was drawn from when sampling. */
interface Proposal {
  id: number;
  q?: Float64Array;
}

/**
 * How tokens are proposed and checked. verify() gives the target's token for a row of its
 * logits and whether that token is the proposal (kept: the round goes on); without a proposal
 * (the prompt's row, a plain step, the row after the last proposal) it is the target's own pick.
 */
interface Rule {
  propose(logits: Float32Array, context: readonly number[]): Proposal;
  verify(logits: Float32Array, sequence: readonly number[], proposal?: Proposal): { id: number; kept: boolean };
}

/** Greedy picks, the repetition penalty included, are the same function of (logits, sequence) for both models. */
function greedyRule(opts: SamplerOptions): Rule {
  const pick = new Sampler(opts);
  return {
    propose: (logits, context) => ({ id: pick.next(logits, context) }),
    verify: (logits, sequence, proposal) => {
      const id = pick.next(logits, sequence);
      return { id, kept: proposal !== undefined && id === proposal.id };
    },
  };
}

/** The rejection rule, on one seeded generator for the draft's draws, the acceptance tests and the target's draws. */
function samplingRule(opts: SamplerOptions): Rule {
  const rng = createRng(opts.seed ?? 0);
  return {
    propose: (logits, context) => {
      const q = tokenDistribution(logits, opts, context);
      return { id: drawFrom(q, rng()), q };
    },
    verify: (logits, sequence, proposal) => {
      const p = tokenDistribution(logits, opts, sequence);
      if (!proposal) return { id: drawFrom(p, rng()), kept: false };
      const { id, q } = proposal;
      if (rng() * q![id]! < p[id]!) return { id, kept: true }; // u < p(d)/q(d), without dividing by a tiny q
      const residual = new Float64Array(p.length);
      for (let i = 0; i < p.length; i++) residual[i] = Math.max(0, p[i]! - q![i]!);
      const fixed = drawFrom(residual, rng());
      // The residual has mass whenever p(d) < q(d); rounding could still leave none.
      return { id: fixed >= 0 ? fixed : drawFrom(p, rng()), kept: false };
    },
  };
}

import { isShrinkrayError, ShrinkrayError } from '../errors.ts';
import type { CausalLM, DecoderState } from '../model/causal-lm.ts';
import { MAX_LOGITS_PER_PASS } from './perplexity.ts';
import { Sampler, type SamplerOptions } from './sampler.ts';

export interface GenerateOptions extends SamplerOptions {
  maxNewTokens: number;
  /** Generation ends, without emitting it, at the first of these ids. */
  stopTokenIds?: readonly number[];
  /** Called with each new token id as soon as it is picked (stop tokens excluded). */
  onToken?: (id: number) => void;
  /** Checked before every forward pass and inside it; see GenerateResult.stoppedBy. */
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** The new tokens only (not the prompt, not the stop token). */
  ids: number[];
  /**
   * Why it ended: a stop token, maxNewTokens or the context length, or the signal.
   * Cancelling is not an error here: the tokens made so far are returned with 'abort',
   * because a chat's stop button wants to keep them.
   */
  stoppedBy: 'eos' | 'length' | 'abort';
  prefillMs: number; // the forward pass over the prompt
  decodeMs: number; // all one-token forward passes after it
  decodeSteps: number; // how many one-token forward passes decodeMs covers
}

export function isAbort(e: unknown, signal: AbortSignal | undefined): boolean {
  return (isShrinkrayError(e) && e.code === 'aborted') || signal?.aborted === true;
}

/** The last row of a [T, vocab] logits block. */
export function lastRow(logits: Float32Array, vocab: number): Float32Array {
  return logits.subarray(logits.length - vocab);
}

/**
 * Feeds `ids` to `state` and returns the logits of the last one. Only that row is needed: a
 * long prompt over a big vocabulary goes in chunks so that its unused logits never take more
 * than MAX_LOGITS_PER_PASS floats.
 */
export async function prefill(model: CausalLM, state: DecoderState, ids: readonly number[], signal?: AbortSignal): Promise<Float32Array> {
  const vocab = model.config.vocabSize;
  const chunk = Math.max(1, Math.floor(MAX_LOGITS_PER_PASS / vocab));
  let logits: Float32Array = new Float32Array(0);
  for (let at = 0; at < ids.length; at += chunk) {
    logits = lastRow(await model.forward(state, ids.slice(at, at + chunk), signal), vocab);
  }
  return logits;
}

/**
 * Autoregressive generation on any CausalLM engine: one forward pass over the prompt, then
 * one token at a time through the KV cache. The caller supplies the prompt ids, BOS
 * included (an empty text prompt is just [BOS]).
 */
export async function generate(model: CausalLM, promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  const { maxNewTokens, stopTokenIds = [], onToken, signal } = opts;
  if (promptIds.length === 0) throw new ShrinkrayError('bad_argument', 'generate needs at least one prompt token (BOS)');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new ShrinkrayError('bad_argument', `maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
  }
  const contextLength = model.config.maxPositionEmbeddings;
  if (promptIds.length > contextLength) {
    throw new ShrinkrayError('bad_argument', `the prompt has ${promptIds.length} tokens; the context length is ${contextLength}`);
  }
  const vocab = model.config.vocabSize;
  const sampler = new Sampler(opts);
  const stops = new Set(stopTokenIds);
  const sequence = [...promptIds];
  const ids: number[] = [];
  let prefillMs = 0;
  let decodeMs = 0;
  let decodeSteps = 0;
  const result = (stoppedBy: GenerateResult['stoppedBy']): GenerateResult => ({ ids, stoppedBy, prefillMs, decodeMs, decodeSteps });

  const state = model.createState();
  try {
    if (signal?.aborted) return result('abort');
    if (maxNewTokens === 0) return result('length');
    const t0 = performance.now();
    let logits = await prefill(model, state, promptIds, signal);
    prefillMs = performance.now() - t0;
    for (;;) {
      const id = sampler.next(logits, sequence);
      if (stops.has(id)) return result('eos');
      ids.push(id);
      sequence.push(id);
      onToken?.(id);
      // The new token is only fed back when another one is wanted and still fits.
      if (ids.length >= maxNewTokens || sequence.length >= contextLength) return result('length');
      if (signal?.aborted) return result('abort');
      const t1 = performance.now();
      logits = lastRow(await model.forward(state, [id], signal), vocab);
      decodeMs += performance.now() - t1;
      decodeSteps++;
    }
  } catch (e) {
    if (isAbort(e, signal)) return result('abort');
    throw e;
  } finally {
    state.dispose();
  }
}

import { ShrinkrayError } from '../errors.ts';
import type { ModelConfig } from './config.ts';

/**
 * What the generate loop and the perplexity evaluator need from a model, whichever engine
 * runs it: the fp32 TypeScript reference (src/model/reference-forward.ts), an
 * onnxruntime-web session (src/runtime/onnx-causal-lm.ts) or the CPU engine (src/engine/).
 */
export interface CausalLM {
  readonly config: ModelConfig;
  /** A fresh, empty KV cache. */
  createState(): DecoderState;
  /**
   * Appends `tokens` to the sequence held by `state` (prefill when it is empty, decode
   * otherwise), updates its KV cache, and returns the logits of every new position.
   * Result layout: [tokens.length, vocabSize], row-major.
   */
  forward(state: DecoderState, tokens: readonly number[], signal?: AbortSignal): Promise<Float32Array>;
  /**
   * Rolls the sequence held by `state` back to its first `length` positions (0 <= length <=
   * state.length): the KV cache forgets the rest, as if they had never been fed. Speculative
   * decoding uses it to drop the draft's rejected tokens.
   */
  truncate(state: DecoderState, length: number): Promise<void>;
  /** Frees what the engine holds (sessions, GPU buffers). */
  dispose(): Promise<void>;
}

/** The engine-specific KV cache plus how many positions it already holds. */
export interface DecoderState {
  readonly length: number;
  dispose(): void;
}

/**
 * What every engine refuses before a forward call touches its cache: no tokens, more than the
 * context holds after the `cached` positions, or an id the embedding has no row for.
 */
export function checkForwardTokens(config: ModelConfig, cached: number, tokens: readonly number[]): void {
  if (tokens.length === 0) throw new ShrinkrayError('bad_argument', 'forward needs at least one token');
  if (cached + tokens.length > config.maxPositionEmbeddings) {
    throw new ShrinkrayError(
      'bad_argument',
      `${cached} cached + ${tokens.length} new tokens exceed the context length ${config.maxPositionEmbeddings}`,
    );
  }
  tokens.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new ShrinkrayError(
        'bad_argument',
        `token id ${id} (input position ${cached + i}) is outside the vocabulary [0, ${config.vocabSize}) of config.json vocab_size`,
      );
    }
  });
}

/** What every engine refuses before a truncate call: a length that is not a position the state holds. */
export function checkTruncateLength(cached: number, length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > cached) {
    throw new ShrinkrayError(
      'bad_argument',
      `truncate to ${length} positions: the state holds ${cached}; the length must be an integer from 0 to ${cached}`,
    );
  }
}

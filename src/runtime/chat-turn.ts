import { ShrinkrayError } from '../errors.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { generate, type GenerateResult } from './generate.ts';
import type { SamplerOptions } from './sampler.ts';
import { DEFAULT_DRAFT_TOKENS, draftedFigures, generateDrafted, type DraftedResult } from './speculative.ts';
import { TextStreamDecoder } from './text-stream-decoder.ts';
import type { ChatMessage, ModelTokenizer } from './tokenizer.ts';

/**
 * One chat turn or plain completion, streamed as text pieces: the one body the app's chat
 * worker (worker/chat.worker.ts) and the library's engine (lib/) both run, so the page's chat
 * and `engine.chat.completions.create` give the same tokens and the same text.
 */

/** A prompt: plain text (a completion; BOS is prepended) or a conversation (rendered with the chat template). */
export type TurnPrompt = { text: string } | { messages: readonly ChatMessage[] };

/** One streamed step: the new token and the text that became final with it (often '' mid-character); id null: the text held back until the end. */
export interface TurnPiece {
  id: number | null;
  text: string;
}

export interface TurnOptions extends SamplerOptions {
  maxNewTokens: number;
  signal?: AbortSignal;
  /** A smaller model drafting for `model` (speculative decoding): the same greedy text, fewer passes of `model`. */
  draft?: { model: CausalLM; draftTokens?: number };
}

export interface TurnResult {
  text: string;
  /** The new tokens only. */
  ids: number[];
  promptTokens: number;
  stoppedBy: GenerateResult['stoppedBy'];
  prefillMs: number;
  decodeMs: number;
  decodeSteps: number;
  /** With a draft: tokens it proposed per round, the share kept, and `model`'s passes per generated token. */
  drafted?: { draftTokens: number; acceptanceRate: number; targetPassesPerToken: number };
}

/** The prompt's ids: the chat template's rendering (no BOS added: templates write their own), or BOS + the text. */
export function turnPromptIds(tokenizer: ModelTokenizer, prompt: TurnPrompt): number[] {
  if ('messages' in prompt) return tokenizer.encode(tokenizer.applyChatTemplate(prompt.messages), { addBos: false });
  const ids = tokenizer.encode(prompt.text, { addBos: true });
  if (ids.length === 0) throw new ShrinkrayError('bad_argument', 'an empty prompt needs a model with a BOS token');
  return ids;
}

/**
 * Generates from `prompt` (ids from turnPromptIds), stopping at the tokenizer's end tokens, and
 * hands each piece of text to `onPiece` as it becomes final. `onPiece` may return a promise (a
 * comlink callback's delivery): the last one is awaited before the result returns, so every
 * piece reaches its receiver before the result does. Aborting is not an error: the text so far
 * comes back with stoppedBy 'abort'.
 */
export async function runTurn(
  model: CausalLM,
  tokenizer: ModelTokenizer,
  prompt: readonly number[],
  o: TurnOptions,
  onPiece?: (piece: TurnPiece) => unknown,
): Promise<TurnResult> {
  const decoder = new TextStreamDecoder(tokenizer, prompt);
  let text = '';
  let delivered: unknown;
  const draftTokens = o.draft?.draftTokens ?? DEFAULT_DRAFT_TOKENS;
  const options = {
    maxNewTokens: o.maxNewTokens,
    temperature: o.temperature ?? 0,
    topK: o.topK,
    topP: o.topP,
    repetitionPenalty: o.repetitionPenalty,
    seed: o.seed,
    stopTokenIds: tokenizer.eosTokenIds,
    signal: o.signal,
    onToken: (id: number) => {
      const piece = decoder.push(id);
      text += piece;
      delivered = onPiece?.({ id, text: piece });
    },
    draftTokens: o.draft?.draftTokens,
  };
  const drafted: DraftedResult | undefined = o.draft && (await generateDrafted(model, o.draft.model, prompt, options));
  const r = drafted ?? (await generate(model, prompt, options));
  const rest = decoder.flush();
  if (rest) {
    text += rest;
    delivered = onPiece?.({ id: null, text: rest });
  }
  await delivered;
  return {
    text,
    ids: r.ids,
    promptTokens: prompt.length,
    stoppedBy: r.stoppedBy,
    prefillMs: r.prefillMs,
    decodeMs: r.decodeMs,
    decodeSteps: r.decodeSteps,
    ...(drafted ? { drafted: { draftTokens, ...draftedFigures(drafted) } } : {}),
  };
}

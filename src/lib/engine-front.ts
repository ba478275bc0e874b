import { ShrinkrayError } from '../errors.ts';
import type { TurnPiece, TurnPrompt, TurnResult } from '../runtime/chat-turn.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatCompletions,
  CompletionUsage,
  Engine,
  FinishReason,
  GenerateOutput,
  GenerateParams,
  SamplingParams,
} from './engine-api.ts';
import type { EngineCore, TurnRequest } from './engine-core.ts';
import { unloadedError } from './arguments.ts';
import { chunkStream } from './chunk-stream.ts';

/**
 * The OpenAI-shaped engine over a core (engine-core.ts), on this thread or in the worker:
 * arguments checked here, where the caller can see them, then one turn per call.
 */

/** New tokens when the caller names no max_tokens (the context length bounds them too). */
export const DEFAULT_MAX_TOKENS = 256;
const ROLES = new Set(['system', 'user', 'assistant']);

export function engineFrom(core: EngineCore): Engine {
  const model = core.info.model;
  let unloaded = false;
  const live = () => {
    if (unloaded) throw unloadedError(model);
  };
  const create = async (request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> => {
    live();
    const turn = turnRequest({ messages: checkMessages(request) }, request, request.max_tokens);
    const id = `chatcmpl-${randomId()}`;
    const created = Math.floor(Date.now() / 1000);
    if (request.stream === true) return chunkStream(core, turn, request.signal, { id, created, model });
    if (request.stream !== undefined && request.stream !== false) throw bad(`stream must be true or false, got ${String(request.stream)}`);
    const r = await core.turn(turn, undefined, request.signal);
    return {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: finishReason(r) }],
      usage: usage(r),
    };
  };
  return {
    info: core.info,
    chat: { completions: { create } as ChatCompletions },
    async generate(prompt: string, params: GenerateParams = {}): Promise<GenerateOutput> {
      live();
      if (typeof prompt !== 'string') throw bad(`generate: the prompt must be a string, got ${typeof prompt}`);
      if (params.maxTokens !== undefined && params.max_tokens !== undefined && params.maxTokens !== params.max_tokens) {
        throw bad(`generate: max_tokens (${params.max_tokens}) and maxTokens (${params.maxTokens}) differ; give one`);
      }
      const { onToken } = params;
      if (onToken !== undefined && typeof onToken !== 'function') throw bad('generate: onToken must be a function');
      const turn = turnRequest({ text: prompt }, params, params.max_tokens ?? params.maxTokens);
      const r = await core.turn(turn, onToken && ((p: TurnPiece) => onToken({ id: p.id, text: p.text })), params.signal);
      return { text: r.text, ids: r.ids, finish_reason: finishReason(r), usage: usage(r) };
    },
    async unload() {
      unloaded = true;
      await core.unload();
    },
  };
}

export function finishReason(r: Pick<TurnResult, 'stoppedBy'>): FinishReason {
  return r.stoppedBy === 'eos' ? 'stop' : r.stoppedBy;
}

export function usage(r: Pick<TurnResult, 'ids' | 'promptTokens'>): CompletionUsage {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.ids.length, total_tokens: r.promptTokens + r.ids.length };
}

function bad(message: string): ShrinkrayError {
  return new ShrinkrayError('bad_argument', message);
}

function checkMessages(request: ChatCompletionRequest): { role: string; content: string }[] {
  if (request === null || typeof request !== 'object') throw bad('chat.completions.create needs a request object: { messages }');
  const { messages } = request;
  if (!Array.isArray(messages)) throw bad(`chat.completions.create: messages must be an array, got ${describe(messages)}`);
  if (messages.length === 0) throw bad('chat.completions.create: messages is empty');
  messages.forEach((m: unknown, i) => {
    const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw bad(`chat.completions.create: messages[${i}].role must be 'system', 'user' or 'assistant', got ${describe(role)}`);
    }
    if (typeof content !== 'string')
      throw bad(`chat.completions.create: messages[${i}].content must be a string, got ${describe(content)}`);
  });
  return messages.map((m) => ({ role: m.role, content: m.content }));
}

/** The sampler's settings, checked: each bad one is named with the value given. */
function turnRequest(prompt: TurnPrompt, p: SamplingParams, maxTokens: number | undefined): TurnRequest {
  const num = (name: string, v: unknown, ok: (x: number) => boolean, want: string, fallback: number): number => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !ok(v)) throw bad(`${name} must be ${want}, got ${describe(v)}`);
    return v;
  };
  const finite = (x: number) => Number.isFinite(x);
  if (p.signal !== undefined && !(p.signal instanceof AbortSignal)) throw bad('signal must be an AbortSignal');
  return {
    prompt,
    maxNewTokens: num('max_tokens', maxTokens, (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0', DEFAULT_MAX_TOKENS),
    temperature: num('temperature', p.temperature, (x) => finite(x) && x >= 0, 'a number >= 0', 0),
    topK: num('top_k', p.top_k, (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0', 0),
    topP: num('top_p', p.top_p, (x) => finite(x) && x > 0 && x <= 1, 'a number in (0, 1]', 1),
    repetitionPenalty: num('repetition_penalty', p.repetition_penalty, (x) => finite(x) && x > 0, 'a number > 0', 1),
    seed: num('seed', p.seed, (x) => Number.isSafeInteger(x), 'an integer', 0),
  };
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'an array';
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

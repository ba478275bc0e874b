import type { TurnResult } from '../runtime/chat-turn.ts';
import type { ChatCompletionChunk, FinishReason } from './engine-api.ts';
import type { EngineCore, TurnRequest } from './engine-core.ts';

/**
 * A streamed chat completion: the turn starts at once and its pieces queue up as chunks, so a
 * slow reader never stalls the model. The first chunk names the role, each piece of text is one
 * chunk, and the last one carries finish_reason and usage (finish_reason 'abort' when the
 * signal fired). Leaving the loop early (break, return) stops the turn within one token.
 */

interface Meta {
  id: string;
  created: number;
  model: string;
}

type Entry = { chunk: ChatCompletionChunk } | { error: unknown } | { end: true };

export function chunkStream(
  core: EngineCore,
  turn: TurnRequest,
  signal: AbortSignal | undefined,
  meta: Meta,
): AsyncIterable<ChatCompletionChunk> {
  const stop = new AbortController();
  const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const queue: Entry[] = [];
  let wake: (() => void) | undefined;
  const push = (e: Entry) => {
    queue.push(e);
    wake?.();
    wake = undefined;
  };
  const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: FinishReason | null, r?: TurnResult): ChatCompletionChunk => ({
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...(r
      ? { usage: { prompt_tokens: r.promptTokens, completion_tokens: r.ids.length, total_tokens: r.promptTokens + r.ids.length } }
      : {}),
  });
  push({ chunk: chunk({ role: 'assistant', content: '' }, null) });
  core
    .turn(
      turn,
      (piece) => {
        if (piece.text) push({ chunk: chunk({ content: piece.text }, null) });
      },
      combined,
    )
    .then(
      (r) => {
        push({ chunk: chunk({}, r.stoppedBy === 'eos' ? 'stop' : r.stoppedBy, r) });
        push({ end: true });
      },
      (error: unknown) => push({ error }),
    );
  let done = false;
  const iterator: AsyncIterator<ChatCompletionChunk> = {
    async next() {
      for (;;) {
        if (done) return { done: true, value: undefined };
        const e = queue.shift();
        if (!e) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        if ('chunk' in e) return { done: false, value: e.chunk };
        done = true;
        if ('error' in e) throw e.error;
      }
    },
    async return() {
      done = true;
      stop.abort();
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

import { ShrinkrayError } from '../errors.ts';
import { TOKENIZER_BUDGET } from '../runtime/tokenizer-budget.ts';
import type { ChatMessage, DecodeOptions, ModelTokenizer, TokenizerFileNames } from '../runtime/tokenizer.ts';

/**
 * A watchdog over the chat worker's tokenizer. tokenizer.json's regular expressions run on
 * the worker's thread, and one that backtracks without end blocks it for good: nothing on
 * that thread can stop it. So the worker announces each tokenizer call to the page before it
 * starts and after it ends (a postMessage leaves at once, even if the thread then blocks),
 * and the page terminates the worker when a call outlasts its budget (client.ts starts a
 * fresh one and fails the pending call with a 'bad_file' error naming the file).
 */
export interface WatchdogMessage {
  type: 'shrinkray-tokenizer-watchdog';
  phase: 'start' | 'end';
  /** The file whose code runs (tokenizer.json, or the chat template's file) and what it does, for the error. */
  file?: string;
  what?: string;
}

type Post = (message: WatchdogMessage) => void;

/** Worker side: `tokenizer` with every call announced through `post` (the worker's postMessage). */
export function watchTokenizer(tokenizer: ModelTokenizer, names: TokenizerFileNames, post: Post): ModelTokenizer {
  const watched = <T>(file: string, what: string, call: () => T): T => {
    post({ type: 'shrinkray-tokenizer-watchdog', phase: 'start', file, what });
    try {
      return call();
    } finally {
      post({ type: 'shrinkray-tokenizer-watchdog', phase: 'end' });
    }
  };
  return {
    get bosTokenId() {
      return tokenizer.bosTokenId;
    },
    get eosTokenIds() {
      return tokenizer.eosTokenIds;
    },
    get hasChatTemplate() {
      return tokenizer.hasChatTemplate;
    },
    encode: (text: string, opts?: { addBos?: boolean }) =>
      watched(names.tokenizer, `encoding a text of ${text.length} characters`, () => tokenizer.encode(text, opts)),
    decode: (ids: readonly number[], opts?: DecodeOptions) =>
      watched(names.tokenizer, `decoding ${ids.length} tokens`, () => tokenizer.decode(ids, opts)),
    applyChatTemplate: (messages: readonly ChatMessage[], opts?: { addGenerationPrompt?: boolean }) =>
      watched(names.chatTemplate, 'rendering the chat template', () => tokenizer.applyChatTemplate(messages, opts)),
  };
}

function isWatchdogMessage(x: unknown): x is WatchdogMessage {
  return typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'shrinkray-tokenizer-watchdog';
}

/**
 * Page side: listens to `worker`'s announcements and calls `onHung` with the error when a
 * tokenizer call has run for `budgetMs`; `restarted` tells the user what became of the worker.
 * Returns a function that stops listening.
 */
export function guardWorker(
  worker: Worker,
  onHung: (error: ShrinkrayError) => void,
  budgetMs: number = TOKENIZER_BUDGET.callMs,
  restarted = 'the chat worker was stopped and started afresh: load a model again',
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listener = (event: MessageEvent) => {
    const m: unknown = event.data;
    if (!isWatchdogMessage(m)) return;
    clearTimeout(timer);
    timer = undefined;
    if (m.phase !== 'start') return;
    timer = setTimeout(
      () =>
        onHung(
          new ShrinkrayError(
            'bad_file',
            `${m.file ?? 'tokenizer.json'}: ${m.what ?? 'a tokenizer call'} did not finish within ${budgetMs} ms ` +
              `(a regular expression that backtracks without end?); ${restarted}`,
          ),
        ),
      budgetMs,
    );
  };
  worker.addEventListener('message', listener);
  return () => {
    clearTimeout(timer);
    worker.removeEventListener('message', listener);
  };
}

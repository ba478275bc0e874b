import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { isShrinkrayError, serializeError, ShrinkrayError, type SerializedShrinkrayError } from '../errors.ts';
import { TextTokenizer, type ChatMessage, type DecodeOptions } from '../runtime/tokenizer.ts';
import type { TokenizerParts } from '../runtime/runnable-model.ts';

/**
 * The worker thread of a guarded tokenizer (guarded-tokenizer.ts): holds the TextTokenizer,
 * answers each request on `port`, then raises the shared flag the caller waits on.
 * Layout of the flag: Int32Array(1) over a SharedArrayBuffer; 0 = request pending, 1 = answered.
 */
export type TokenizerRequest =
  | { op: 'encode'; text: string; addBos?: boolean }
  | { op: 'decode'; ids: number[]; opts: DecodeOptions }
  | { op: 'template'; messages: ChatMessage[]; addGenerationPrompt?: boolean };

export type TokenizerReply = { ok: true; value: unknown } | { ok: false; error: SerializedShrinkrayError };

export interface TokenizerReady {
  ok: true;
  bosTokenId: number | null;
  eosTokenIds: number[];
  hasChatTemplate: boolean;
}

const { parts, port, flag } = workerData as { parts: TokenizerParts; port: MessagePort; flag: Int32Array };
// The tokenizer's own errors keep their code; anything else its files' code throws is the files' fault.
const failure = (e: unknown): TokenizerReply => ({
  ok: false,
  error: serializeError(isShrinkrayError(e) ? e : new ShrinkrayError('bad_file', e instanceof Error ? e.message : String(e), { cause: e })),
});

let tokenizer: TextTokenizer | undefined;
try {
  tokenizer = new TextTokenizer(parts.tokenizerJson, parts.tokenizerConfig, parts.config, parts.names, parts.generationConfig);
  const ready: TokenizerReady = {
    ok: true,
    bosTokenId: tokenizer.bosTokenId,
    eosTokenIds: tokenizer.eosTokenIds,
    hasChatTemplate: tokenizer.hasChatTemplate,
  };
  parentPort!.postMessage(ready);
} catch (e) {
  parentPort!.postMessage(failure(e));
}

port.on('message', (request: TokenizerRequest) => {
  let reply: TokenizerReply;
  try {
    const t = tokenizer!;
    const value =
      request.op === 'encode'
        ? t.encode(request.text, { addBos: request.addBos })
        : request.op === 'decode'
          ? t.decode(request.ids, request.opts)
          : t.applyChatTemplate(request.messages, { addGenerationPrompt: request.addGenerationPrompt });
    reply = { ok: true, value };
  } catch (e) {
    reply = failure(e);
  }
  port.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});

/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { ShrinkrayError } from '../errors.ts';
import { runTurn, turnPromptIds } from '../runtime/chat-turn.ts';
import { withFiniteLogits } from '../runtime/finite-logits.ts';
import { evaluatePerplexity } from '../runtime/perplexity.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { nextEventTurn, releaseCallbacks, serialQueue, signalFromPort } from './cancel.ts';
import { loadDraftModel } from './chat-draft.ts';
import { loadChatModel, type ChatModel } from './chat-model.ts';
import { registerErrorTransfer, toShrinkrayError } from './errors.ts';
import type {
  CancelPort,
  ChatWorkerApi,
  LoadOptions,
  GenerateRequest,
  GenerateSummary,
  PerplexitySummary,
  ProgressCallback,
  TokenCallback,
  WorkerOptions,
} from './protocol.ts';
import { WorkerStore } from './worker-store.ts';

/**
 * The chat worker: one stored model at a time (and, on request, a compressed copy drafting for it); streams tokens as text
 * pieces, keeps the tokens made so far when stopped, and measures tokens per second.
 */
registerErrorTransfer();
const store = new WorkerStore();
let loaded: ChatModel | undefined;
let draft: ChatModel | undefined; // LoadOptions.draft: drafts for `loaded`
const serial = serialQueue(); // load, generate, evaluate and unload never overlap

function current(): ChatModel {
  if (!loaded) throw new ShrinkrayError('bad_argument', 'no model is loaded in the chat worker; call load(modelId) first');
  return loaded;
}

async function unload(): Promise<void> {
  const [m, d] = [loaded, draft];
  loaded = undefined;
  draft = undefined;
  await m?.lm.dispose();
  await d?.lm.dispose();
}

async function withCancel<T>(cancel: CancelPort | undefined, callback: unknown, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, close } = signalFromPort(cancel); // listening at once: a cancel may come while queued
  try {
    return await serial(() => body(signal));
  } catch (e) {
    throw toShrinkrayError(e);
  } finally {
    close();
    releaseCallbacks(callback);
  }
}

/** The loaded model with an event-loop turn before every forward pass, so a cancel arrives mid-generation; NaN or infinite logits are an error. */
function cancellableModel(m: ChatModel): CausalLM {
  return withFiniteLogits(
    {
      config: m.lm.config,
      createState: () => m.lm.createState(),
      forward: async (state, tokens, signal) => {
        await nextEventTurn();
        return m.lm.forward(state, tokens, signal);
      },
      dispose: () => m.lm.dispose(),
      truncate: (state, length) => m.lm.truncate(state, length),
    },
    `model '${m.info.id}'`,
  );
}

const api: ChatWorkerApi = {
  configure: (options: WorkerOptions) =>
    serial(async () => {
      await unload();
      await store.configure(options);
    }),

  load: async (modelId: string, options: LoadOptions = {}, onProgress?: ProgressCallback) => {
    try {
      return await serial(async () => {
        await unload();
        const s = await store.get();
        loaded = await loadChatModel(s, modelId, options, onProgress, (m) => self.postMessage(m));
        if (options.draft !== undefined) draft = await loadDraftModel(s, loaded, options.draft, options, onProgress);
        return draft ? { ...loaded.info, draft: draft.info } : loaded.info;
      });
    } catch (e) {
      throw toShrinkrayError(e);
    } finally {
      releaseCallbacks(onProgress);
    }
  },

  generate: (request: GenerateRequest, onToken?: TokenCallback, cancel?: CancelPort) =>
    withCancel(cancel, onToken, async (signal): Promise<GenerateSummary> => {
      const m = current();
      // Across comlink, each onToken call is a message on the callback's own port, not the port this
      // result returns on: runTurn awaits the last one (its port delivers in order) before returning,
      // so every piece reaches the page before the summary does.
      const r = await runTurn(
        cancellableModel(m),
        m.tokenizer,
        turnPromptIds(m.tokenizer, request.prompt),
        {
          maxNewTokens: request.maxNewTokens,
          temperature: request.temperature ?? 0,
          topK: request.topK,
          topP: request.topP,
          repetitionPenalty: request.repetitionPenalty,
          seed: request.seed,
          signal,
          ...(draft ? { draft: { model: cancellableModel(draft), draftTokens: request.draftTokens } } : {}),
        },
        onToken,
      );
      return {
        text: r.text,
        ids: r.ids,
        promptTokens: r.promptTokens,
        stoppedBy: r.stoppedBy,
        prefillMs: r.prefillMs,
        decodeMs: r.decodeMs,
        tokensPerSecond: r.decodeSteps > 0 ? (1000 * r.decodeSteps) / r.decodeMs : 0,
        ...(r.drafted ? { drafted: r.drafted } : {}),
      };
    }),

  evaluate: (text: string, options: { maxDocs?: number } = {}, onProgress?: ProgressCallback, cancel?: CancelPort) =>
    withCancel(cancel, onProgress, async (signal): Promise<PerplexitySummary> => {
      const m = current();
      const t0 = performance.now();
      const r = await evaluatePerplexity(cancellableModel(m), m.tokenizer, text, {
        maxDocs: options.maxDocs,
        signal,
        modelName: `model '${m.info.id}'`,
        onProgress: (p) => onProgress?.({ stage: 'perplexity', done: p.done, total: p.total }),
      });
      return { nll: r.nll, ppl: r.ppl, tokens: r.tokens, docs: r.docs, ms: performance.now() - t0 };
    }),

  unload: () => serial(unload),
};

Comlink.expose(api);

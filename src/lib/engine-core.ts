import { ShrinkrayError } from '../errors.ts';
import { openEngine, type EngineHost } from '../jobs/open-engine.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { runTurn, turnPromptIds, type TurnPiece, type TurnPrompt, type TurnResult } from '../runtime/chat-turn.ts';
import { withFiniteLogits } from '../runtime/finite-logits.ts';
import type { ModelTokenizer } from '../runtime/tokenizer.ts';
import { nextEventTurn, serialQueue } from '../worker/cancel.ts';
import type { CreateEngineOptions, EngineInfo } from './engine-api.ts';
import type { FolderOpener } from './url-folder-opener.ts';
import { unloadedError } from './arguments.ts';

/**
 * The engine on this thread: a model opened by openEngine (jobs/open-engine.ts, as the app's
 * chat and the CLI open theirs) and one call, `turn`, that runs a chat turn or a completion
 * through runTurn (runtime/chat-turn.ts, the app's chat body). The OpenAI-shaped front
 * (engine-front.ts) drives it here or, through comlink, inside the library's worker.
 */

/** A turn as plain data (it crosses to the worker): the prompt and the sampler's settings. */
export interface TurnRequest {
  prompt: TurnPrompt;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed: number;
}

export interface EngineCore {
  readonly info: EngineInfo;
  turn(request: TurnRequest, onPiece?: (piece: TurnPiece) => unknown, signal?: AbortSignal): Promise<TurnResult>;
  unload(): Promise<void>;
}

export type CoreOptions = Pick<CreateEngineOptions, 'engine' | 'device' | 'threads' | 'onProgress' | 'signal'>;

export async function openCore(folder: FolderOpener, host: EngineHost, o: CoreOptions, close?: () => void): Promise<EngineCore> {
  const started = performance.now();
  let opened;
  try {
    throwIfAborted(o.signal, folder.where);
    opened = await openEngine(folder.open, host, {
      engine: o.engine ?? 'auto',
      ...(o.device ? { device: o.device } : {}),
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      where: folder.where,
      display: folder.display,
      onProgress: o.onProgress,
    });
  } catch (e) {
    close?.();
    throw e;
  }
  const { runnable, model, engine, device, threads, simd, fallback } = opened;
  const tokenizer = runnable.tokenizer!;
  const dispose = async () => {
    await tokenizer.dispose?.();
    await model.dispose();
    close?.();
  };
  if (engine === 'reference' || o.signal?.aborted) {
    await dispose();
    throwIfAborted(o.signal, folder.where);
    throw new ShrinkrayError('bad_argument', `${folder.where}: the library runs the 'cpu' and 'onnx' engines`);
  }
  const info: EngineInfo = {
    model: folder.where,
    engine,
    device,
    threads,
    ...(simd ? { simd } : {}),
    ...(fallback ? { fallback } : {}),
    contextLength: runnable.config.maxPositionEmbeddings,
    vocabSize: runnable.config.vocabSize,
    hasChatTemplate: tokenizer.hasChatTemplate,
    loadMs: performance.now() - started,
  };
  return localCore(info, withFiniteLogits(model, folder.where), tokenizer, dispose);
}

function localCore(info: EngineInfo, model: CausalLM, tokenizer: ModelTokenizer, dispose: () => Promise<void>): EngineCore {
  const serial = serialQueue(); // one turn at a time: the model holds one KV cache per state, and a CPU's cores
  let unloaded = false;
  // An event-loop turn before every forward pass: an abort (a click, a cancel port's message) gets in mid-generation.
  const yielding: CausalLM = {
    config: model.config,
    createState: () => model.createState(),
    forward: async (state, tokens, signal) => {
      await nextEventTurn();
      return model.forward(state, tokens, signal);
    },
    truncate: (state, length) => model.truncate(state, length),
    dispose: () => model.dispose(),
  };
  return {
    info,
    turn: (request, onPiece, signal) =>
      serial(async () => {
        if (unloaded) throw unloadedError(info.model);
        const prompt = turnPromptIds(tokenizer, request.prompt);
        const { prompt: _, ...sampling } = request;
        return runTurn(yielding, tokenizer, prompt, { ...sampling, ...(signal ? { signal } : {}) }, onPiece);
      }),
    unload: () =>
      serial(async () => {
        if (unloaded) return;
        unloaded = true;
        await dispose();
      }),
  };
}

function throwIfAborted(signal: AbortSignal | undefined, where: string): void {
  if (signal?.aborted) throw new ShrinkrayError('aborted', `loading ${where} was cancelled`);
}

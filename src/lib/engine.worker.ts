/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { ShrinkrayError } from '../errors.ts';
import type { TurnPiece, TurnResult } from '../runtime/chat-turn.ts';
import { releaseCallbacks, signalFromPort } from '../worker/cancel.ts';
import { browserEngineHost } from '../worker/chat-model.ts';
import { registerErrorTransfer, toShrinkrayError } from '../worker/errors.ts';
import type { CancelPort } from '../worker/protocol.ts';
import { openSpec } from './browser-source.ts';
import type { SourceSpec } from './arguments.ts';
import type { CreateEngineOptions, EngineInfo, LoadProgress } from './engine-api.ts';
import { openCore, type EngineCore, type TurnRequest } from './engine-core.ts';

/**
 * The library's worker: one engine (engine-core.ts) per worker, opened from a source spec and
 * driven by the page's front (engine-front.ts) through comlink. Pieces stream back through a
 * callback; a signal arrives as a cancel port (worker/cancel.ts); errors cross whole (worker/errors.ts).
 */
export interface EngineWorkerApi {
  open(
    spec: SourceSpec,
    options: Pick<CreateEngineOptions, 'engine' | 'device' | 'threads'>,
    onProgress?: (p: LoadProgress) => void,
    cancel?: CancelPort,
  ): Promise<EngineInfo>;
  turn(request: TurnRequest, onPiece?: (piece: TurnPiece) => unknown, cancel?: CancelPort): Promise<TurnResult>;
  unload(): Promise<void>;
}

registerErrorTransfer();
let core: EngineCore | undefined;

async function call<T>(cancel: CancelPort | undefined, callback: unknown, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, close } = signalFromPort(cancel);
  try {
    return await body(signal);
  } catch (e) {
    throw toShrinkrayError(e);
  } finally {
    close();
    releaseCallbacks(callback);
  }
}

const api: EngineWorkerApi = {
  open: (spec, options, onProgress, cancel) =>
    call(cancel, onProgress, async (signal) => {
      if (core) throw new ShrinkrayError('bad_argument', `this worker already runs ${core.info.model}`);
      const { folder, close } = await openSpec(spec, onProgress, signal);
      core = await openCore(folder, browserEngineHost, { ...options, signal, ...(onProgress ? { onProgress } : {}) }, close);
      return core.info;
    }),
  turn: (request, onPiece, cancel) =>
    call(cancel, onPiece, (signal) => {
      if (!core) throw new ShrinkrayError('bad_argument', 'no model is open in this worker');
      return core.turn(request, onPiece, signal);
    }),
  unload: async () => {
    const c = core;
    core = undefined;
    await c?.unload();
  },
};

Comlink.expose(api);

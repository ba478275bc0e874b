import * as Comlink from 'comlink';
import { ShrinkrayError } from '../errors.ts';
import type { TurnPiece } from '../runtime/chat-turn.ts';
import { cancelPortFor } from '../worker/cancel.ts';
import { registerErrorTransfer } from '../worker/errors.ts';
import type { SourceSpec } from './arguments.ts';
import type { CreateEngineOptions } from './engine-api.ts';
import type { EngineCore } from './engine-core.ts';
import type { EngineWorkerApi } from './engine.worker.ts';

/**
 * The engine in a dedicated Worker (engine.worker.ts): the same core, reached through comlink.
 * A worker that fails to start (its script missing, a syntax error) fails the load, not hangs it;
 * unload ends the worker.
 */
export async function workerCore(spec: SourceSpec, o: CreateEngineOptions): Promise<EngineCore> {
  registerErrorTransfer();
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'shrinkray-engine' });
  const api = Comlink.wrap<EngineWorkerApi>(worker);
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (e) => {
      reject(new ShrinkrayError('runtime_error', `the shrinkray engine's worker failed to start${e.message ? `: ${e.message}` : ''}`));
    });
  });
  const withCancel = async <T>(signal: AbortSignal | undefined, run: (port: MessagePort | undefined) => Promise<T>): Promise<T> => {
    const { port, done } = cancelPortFor(signal);
    try {
      return await Promise.race([run(port), failed]);
    } finally {
      done();
    }
  };
  const transfer = <T>(value: T, port: MessagePort | undefined) => (port ? Comlink.transfer(value, [port]) : value);
  let info;
  try {
    const options = { engine: o.engine, device: o.device, threads: o.threads };
    const progress = o.onProgress && Comlink.proxy(o.onProgress);
    info = await withCancel(o.signal, (port) => api.open(spec, options, progress, transfer(port, port)));
  } catch (e) {
    worker.terminate();
    throw e;
  }
  return {
    info,
    turn: (request, onPiece, signal) =>
      withCancel(signal, (port) => api.turn(request, onPiece && Comlink.proxy((p: TurnPiece) => onPiece(p)), transfer(port, port))),
    unload: async () => {
      try {
        await Promise.race([api.unload(), failed]);
      } finally {
        api[Comlink.releaseProxy]();
        worker.terminate();
      }
    },
  };
}

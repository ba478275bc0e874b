import { checkOptions, sourceSpec } from './arguments.ts';
import type { CreateEngineOptions, Engine, EngineSource } from './engine-api.ts';
import { engineFrom } from './engine-front.ts';
import { workerCore } from './worker-core.ts';

/**
 * 'shrinkray' in a browser: `createEngine(source, options)` loads a compressed model and answers
 * in the shape of OpenAI's chat completions (engine-api.ts). By default it runs in a dedicated
 * Worker, so the page stays responsive; `worker: false` runs it on the calling thread (for code
 * that is already in a worker), its code loaded only then.
 */
export type * from './engine-api.ts';
export { isShrinkrayError, ShrinkrayError, type ShrinkrayErrorCode } from '../errors.ts';

export async function createEngine(source: EngineSource, options: CreateEngineOptions = {}): Promise<Engine> {
  const o = checkOptions(options);
  const spec = sourceSpec(source);
  if (o.worker ?? true) return engineFrom(await workerCore(spec, o));
  const { localCore } = await import('./browser-source.ts');
  return engineFrom(await localCore(spec, o));
}

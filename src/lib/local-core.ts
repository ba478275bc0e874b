import { browserEngineHost } from '../worker/chat-model.ts';
import { openSpec } from './browser-source.ts';
import type { SourceSpec } from './source-spec.ts';
import type { CreateEngineOptions } from './engine-api.ts';
import { openCore, type EngineCore } from './engine-core.ts';

/**
 * The engine on the page's own thread (`worker: false`): loaded on demand by index.ts, so a page
 * that runs the engine in its worker (the default) never downloads the engine twice.
 */
export async function localCore(spec: SourceSpec, o: CreateEngineOptions): Promise<EngineCore> {
  const { folder, close } = await openSpec(spec, o.onProgress, o.signal);
  return openCore(folder, browserEngineHost, o, close);
}

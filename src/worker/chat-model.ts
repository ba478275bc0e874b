import { ShrinkrayError } from '../errors.ts';
import { browserEngineModules, defaultEngineThreads } from '../engine/browser-engine.ts';
import { openEngine, type EngineHost } from '../jobs/open-engine.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { TextTokenizer, type ModelTokenizer } from '../runtime/tokenizer.ts';
import type { ModelStore } from '../store/store-types.ts';
import type { LoadedModelInfo, LoadOptions, ProgressCallback } from './protocol.ts';
import { getManifest, storedFileOpener } from './stored-model.ts';
import { watchTokenizer, type WatchdogMessage } from './tokenizer-watchdog.ts';

/**
 * A stored model, made runnable by openEngine (jobs/open-engine.ts, the job the CLI runs too).
 * On the CPU (no usable WebGPU adapter) it runs on our WASM SIMD engine, which reads the stored
 * bytes where they lie (a compressed model's onnx/model.onnx, or a downloaded model's
 * safetensors: f32, or fp16 for a bf16/fp16 checkpoint); a graph the engine does not run falls
 * back to onnxruntime-web's wasm EP, and the load result says why. With WebGPU, onnxruntime-web
 * runs the stored graph (for a safetensors model, a graph built from its weights, fp16 for a
 * 16-bit checkpoint). Only the store is read, never the network.
 */
export interface ChatModel {
  info: LoadedModelInfo;
  lm: CausalLM;
  tokenizer: ModelTokenizer;
}

/** The page's host: the engine fetched with the app, threads where the page is isolated, 16-bit checkpoints kept 16-bit. */
export const browserEngineHost: EngineHost = {
  engineModules: browserEngineModules,
  defaultThreads: defaultEngineThreads,
  onnxThreads: true,
  weightsGraph: 'checkpoint',
};

/** `announce` (the worker's postMessage) reports each tokenizer call to the page's watchdog (tokenizer-watchdog.ts). */
export async function loadChatModel(
  store: ModelStore,
  modelId: string,
  options: LoadOptions,
  onProgress?: ProgressCallback,
  announce?: (m: WatchdogMessage) => void,
): Promise<ChatModel> {
  const started = performance.now();
  const manifest = await getManifest(store, modelId);
  const { runnable, model, engine, device, ...how } = await openEngine(storedFileOpener(store, manifest), browserEngineHost, {
    engine: options.engine,
    device: options.device,
    threads: options.threads,
    where: `model '${modelId}'`,
    sessionName: (name) => `${modelId}/${name}`,
    onProgress,
    onStep: (item) => onProgress?.({ stage: 'prepare', done: 0, total: 1, item }),
  });
  // LoadOptions.engine never names the fp32 reference: the page runs stored graphs and weights on the two engines.
  if (engine === 'reference') throw new ShrinkrayError('bad_argument', `model '${modelId}': the page runs no reference engine`);
  const raw = runnable.tokenizer!;
  const tokenizer = announce && raw instanceof TextTokenizer ? watchTokenizer(raw, raw.names, announce) : raw;
  return {
    lm: model,
    tokenizer,
    info: {
      id: modelId,
      format: runnable.graph.kind === 'onnx' ? 'onnx' : 'safetensors',
      engine,
      device,
      ...how,
      vocabSize: runnable.config.vocabSize,
      contextLength: runnable.config.maxPositionEmbeddings,
      hasChatTemplate: tokenizer.hasChatTemplate,
      loadMs: performance.now() - started,
    },
  };
}

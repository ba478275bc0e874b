import * as ort from 'onnxruntime-web';
import { buildOnnxDecoder } from '../build/decoder.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { createOnnxCausalLM, type OnnxCausalLM } from '../runtime/onnx-causal-lm.ts';
import { openRunnableModel } from '../runtime/runnable-model.ts';
import { TextTokenizer, type ModelTokenizer } from '../runtime/tokenizer.ts';
import type { ModelStore } from '../store/store-types.ts';
import type { LoadedModelInfo, LoadOptions, ProgressCallback } from './protocol.ts';
import { getManifest, storedFileOpener } from './stored-model.ts';
import { watchTokenizer, type WatchdogMessage } from './tokenizer-watchdog.ts';

/**
 * A stored model, made runnable: a compressed model's onnx/model.onnx (+ external data)
 * as stored, or, for a downloaded safetensors model, an fp32 graph built from its weights
 * (the "before" side of a comparison). Only the store is read, never the network.
 */
export interface ChatModel {
  info: LoadedModelInfo;
  lm: OnnxCausalLM;
  tokenizer: ModelTokenizer;
}

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
  const m = await openRunnableModel(storedFileOpener(store, manifest), {
    where: `model '${modelId}'`,
    onBytes: (done, total) => onProgress?.({ stage: 'load', done, total }),
  });
  const { graph } = m;
  const onnx =
    graph.kind === 'onnx'
      ? graph
      : {
          name: MODEL_FILES.onnxModel,
          externalData: [],
          model: (await buildOnnxDecoder(graph.ir, { onProgress: (p) => onProgress?.({ stage: 'load', done: p.done, total: p.total }) }))
            .model,
        };
  const lm = await createOnnxCausalLM(m.config, onnx.model, onnx.externalData, {
    fileName: `${modelId}/${onnx.name}`,
    configName: `${modelId}/${m.configName}`,
    device: options.device,
    numThreads: options.threads,
  });
  const raw = m.tokenizer!;
  const tokenizer = announce && raw instanceof TextTokenizer ? watchTokenizer(raw, raw.names, announce) : raw;
  return {
    lm,
    tokenizer,
    info: {
      id: modelId,
      format: graph.kind === 'onnx' ? 'onnx' : 'safetensors',
      device: lm.device,
      threads: ort.env.wasm.numThreads ?? 1,
      vocabSize: m.config.vocabSize,
      contextLength: m.config.maxPositionEmbeddings,
      hasChatTemplate: tokenizer.hasChatTemplate,
      loadMs: performance.now() - started,
    },
  };
}

import * as ort from 'onnxruntime-web';
import { buildOnnxDecoder } from '../build/decoder.ts';
import { browserEngineModules, defaultEngineThreads } from '../engine/browser-engine.ts';
import type { CpuCausalLM } from '../engine/cpu-causal-lm.ts';
import { CpuModelLoader, type GraphFiles } from '../engine/cpu-model-loader.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import type { ModelIR } from '../model/ir.ts';
import { createOnnxCausalLM } from '../runtime/onnx-causal-lm.ts';
import { pickDevice } from '../runtime/onnx-session.ts';
import { openRunnableModel, type OnnxGraph, type RunnableModel } from '../runtime/runnable-model.ts';
import { TextTokenizer, type ModelTokenizer } from '../runtime/tokenizer.ts';
import type { ModelStore } from '../store/store-types.ts';
import type { LoadedModelInfo, LoadOptions, ProgressCallback } from './protocol.ts';
import { getManifest, storedFileOpener } from './stored-model.ts';
import { watchTokenizer, type WatchdogMessage } from './tokenizer-watchdog.ts';

/**
 * A stored model, made runnable. On the CPU (no usable WebGPU adapter) it runs on our WASM
 * SIMD engine, which reads the stored bytes where they lie (a compressed model's
 * onnx/model.onnx, or a downloaded model's safetensors: f32, or fp16 for a bf16/fp16
 * checkpoint); a graph the engine does not run falls back to onnxruntime-web's wasm EP, and
 * the load result says why. With WebGPU, onnxruntime-web runs the stored graph (for a
 * safetensors model, a graph built from its weights, fp16 for a 16-bit checkpoint). Only the
 * store is read, never the network.
 */
export interface ChatModel {
  info: LoadedModelInfo;
  lm: CausalLM;
  tokenizer: ModelTokenizer;
}

type Loaded = {
  lm: CausalLM;
  engine: 'cpu' | 'onnx';
  device: 'wasm' | 'webgpu';
  threads: number;
  simd?: 'relaxed' | 'plain';
  fallback?: string;
  memoryBytes?: number;
  weights?: string;
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
  const open = storedFileOpener(store, manifest);
  const where = `model '${modelId}'`;
  const onBytes = (done: number, total: number) => onProgress?.({ stage: 'load', done, total });
  const engine = options.engine ?? 'auto';
  const cpu = engine === 'cpu' || (engine === 'auto' && (await pickDevice(options.device ?? 'auto')) === 'wasm');
  let m: RunnableModel;
  let loaded: Loaded;
  if (cpu) {
    const loader = await CpuModelLoader.create(await browserEngineModules(), { threads: options.threads ?? defaultEngineThreads() });
    m = await openRunnableModel(open, { where, onBytes, allocate: loader.allocate });
    const { graph } = m;
    const lm = graph.kind === 'onnx' ? await loader.fromGraph(m.config, graph) : await loader.fromIR(graph.ir);
    if ('unsupported' in lm) {
      const files = loader.copyOut(graph as OnnxGraph);
      loaded = { ...(await onnxModel(m, files, modelId, { ...options, device: 'wasm' })), fallback: lm.unsupported };
    } else {
      loaded = cpuLoaded(lm);
    }
  } else {
    m = await openRunnableModel(open, { where, onBytes });
    const { graph } = m;
    loaded = await onnxModel(m, graph.kind === 'onnx' ? graph : await weightsGraph(graph.ir, onProgress), modelId, options);
  }
  const raw = m.tokenizer!;
  const tokenizer = announce && raw instanceof TextTokenizer ? watchTokenizer(raw, raw.names, announce) : raw;
  const { lm, ...how } = loaded;
  return {
    lm,
    tokenizer,
    info: {
      id: modelId,
      format: m.graph.kind === 'onnx' ? 'onnx' : 'safetensors',
      ...how,
      vocabSize: m.config.vocabSize,
      contextLength: m.config.maxPositionEmbeddings,
      hasChatTemplate: tokenizer.hasChatTemplate,
      loadMs: performance.now() - started,
    },
  };
}

function cpuLoaded(lm: CpuCausalLM): Loaded {
  const w = lm.info.weights;
  const weights = w?.matrices === 'f16' ? { weights: `fp16 (from ${w.from.join(', ')})` } : {};
  return { lm, engine: 'cpu', device: 'wasm', threads: lm.info.threads, simd: lm.info.simd, memoryBytes: lm.info.heapBytes(), ...weights };
}

/**
 * A graph built from an imported model's weights for onnxruntime-web: fp16 storage when the
 * checkpoint is 16-bit (bf16 or fp16, as published: its fp32 graph would be twice its size,
 * 4.4 GB for a 1B model), else fp32; a graph over the builder's threshold keeps its external data.
 */
async function weightsGraph(ir: ModelIR, onProgress?: ProgressCallback): Promise<GraphFiles> {
  const half = [...ir.tensors.values()].some((t) => t.dtype === 'BF16' || t.dtype === 'F16');
  const built = await buildOnnxDecoder(ir, {
    storage: half ? 'fp16' : 'fp32',
    onProgress: (p) => onProgress?.({ stage: 'load', done: p.done, total: p.total }),
  });
  const ext = built.externalData;
  let data: Uint8Array | null = null;
  if (ext) {
    // onnxruntime-web takes one buffer per external file: the chunks are joined once (the graph's weights are held twice meanwhile).
    data = new Uint8Array(ext.byteLength);
    let at = 0;
    for (let c = ext.chunks.shift(); c; c = ext.chunks.shift()) {
      data.set(c, at);
      at += c.byteLength;
    }
  }
  return { name: MODEL_FILES.onnxModel, model: built.model, externalData: ext && data ? [{ path: ext.location, data }] : [] };
}

async function onnxModel(m: RunnableModel, onnx: GraphFiles, modelId: string, options: LoadOptions): Promise<Loaded> {
  const lm = await createOnnxCausalLM(m.config, onnx.model, [...onnx.externalData], {
    fileName: `${modelId}/${onnx.name}`,
    configName: `${modelId}/${m.configName}`,
    device: options.device,
    numThreads: options.threads,
  });
  return { lm, engine: 'onnx', device: lm.device, threads: ort.env.wasm.numThreads ?? 1 };
}

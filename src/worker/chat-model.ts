import * as ort from 'onnxruntime-web';
import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from '../formats/byte-source.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import { inspectOnnx } from '../formats/onnx/onnx-reader.ts';
import { buildOnnxDecoder } from '../build/decoder.ts';
import { HF_FILES, openHfModel, readJsonSource } from '../model/hf-model.ts';
import { createOnnxCausalLM, type OnnxCausalLM } from '../runtime/onnx-causal-lm.ts';
import type { ExternalDataFile } from '../runtime/onnx-session.ts';
import { TextTokenizer } from '../runtime/tokenizer.ts';
import type { ModelStore } from '../store/store-types.ts';
import type { ChatDevice, LoadedModelInfo, LoadOptions, ProgressCallback } from './protocol.ts';
import { getManifest, storedFileOpener } from './stored-model.ts';

/**
 * A stored model, made runnable: a compressed model's onnx/model.onnx (+ external data)
 * as stored, or, for a downloaded safetensors model, an fp32 graph built from its weights
 * (the "before" side of a comparison). Only the store is read, never the network.
 */
export interface ChatModel {
  info: LoadedModelInfo;
  lm: OnnxCausalLM;
  tokenizer: TextTokenizer;
}

export const ONNX_MODEL_PATH = 'onnx/model.onnx';

/** Reads a whole stored file; onnxruntime needs the graph and its weights in memory. */
async function readAll(src: ByteSource, onBytes: (n: number) => void): Promise<Uint8Array> {
  const out = new Uint8Array(src.size);
  const piece = 8 * 1024 * 1024;
  for (let at = 0; at < src.size; at += piece) {
    const n = Math.min(piece, src.size - at);
    out.set(await src.read(at, n), at);
    onBytes(n);
  }
  return out;
}

export async function loadChatModel(store: ModelStore, modelId: string, options: LoadOptions, onProgress?: ProgressCallback): Promise<ChatModel> {
  const started = performance.now();
  const manifest = await getManifest(store, modelId);
  const open = storedFileOpener(store, manifest);
  const need = async (path: string) => {
    const src = await open(path);
    if (!src) throw new ShrinkrayError('missing_file', `model '${modelId}' has no ${path} (files: ${manifest.files.map((f) => f.path).join(', ')})`);
    return src;
  };
  const configSource = await need(HF_FILES.config);
  const config = parseHfConfig(await readJsonSource(configSource), configSource.name);
  const tokenizerJson = await readJsonSource(await need(HF_FILES.tokenizer));
  const tokenizerConfigSource = await open(HF_FILES.tokenizerConfig);
  const tokenizer = new TextTokenizer(tokenizerJson, tokenizerConfigSource ? await readJsonSource(tokenizerConfigSource) : {}, config);

  let model: Uint8Array;
  const externalData: ExternalDataFile[] = [];
  let format: LoadedModelInfo['format'];
  if (manifest.files.some((f) => f.path === ONNX_MODEL_PATH)) {
    format = 'onnx';
    const total = manifest.files.filter((f) => f.path.startsWith('onnx/')).reduce((s, f) => s + f.size, 0);
    let done = 0;
    const onBytes = (n: number) => onProgress?.({ stage: 'load', done: (done += n), total });
    model = await readAll(await need(ONNX_MODEL_PATH), onBytes);
    for (const location of inspectOnnx(model, ONNX_MODEL_PATH).externalFiles.keys()) {
      externalData.push({ path: location, data: await readAll(await need(`onnx/${location}`), onBytes) });
    }
  } else {
    format = 'safetensors';
    const { ir } = await openHfModel(open);
    model = (await buildOnnxDecoder(ir, {
      onProgress: (p) => onProgress?.({ stage: 'load', done: p.done, total: p.total }),
    })).model;
  }
  const lm = await createOnnxCausalLM(config, model, externalData, {
    fileName: `${modelId}/${ONNX_MODEL_PATH}`, device: options.device, numThreads: options.threads,
  });
  return {
    lm, tokenizer,
    info: {
      id: modelId, format, device: lm.device, threads: ort.env.wasm.numThreads ?? 1, vocabSize: config.vocabSize, contextLength: config.maxPositionEmbeddings,
      hasChatTemplate: tokenizer.hasChatTemplate, loadMs: performance.now() - started,
    },
  };
}

import { ShrinkrayError } from '../errors.ts';
import type { ByteSource, DisplayName, OpenModelFile } from '../formats/byte-source.ts';
import { readJsonSource } from '../formats/json-file.ts';
import { MODEL_FILES, onnxDataPath } from '../formats/model-folder-layout.ts';
import { inspectOnnx } from '../formats/onnx/onnx-reader.ts';
import type { ModelConfig } from '../model/config.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import { openHfModel, weightFileBytes } from '../model/hf-model.ts';
import type { ModelIR } from '../model/ir.ts';
import type { ExternalDataFile } from './onnx-session.ts';
import { TextTokenizer } from './tokenizer.ts';

/**
 * Opens a model folder to run it, wherever its files live (a Node folder, the browser's
 * store): config.json, the tokenizer (with tokenizer_config.json and chat_template.jinja),
 * generation_config.json, and either the stored ONNX graph with its external data (a
 * compressed model) or the lazy safetensors weights (an imported one). The caller picks the
 * engine: the chat worker builds an fp32 graph from weights, the CLI runs the reference.
 */
export interface RunnableModel {
  config: ModelConfig;
  configJson: Record<string, unknown>;
  tokenizer: TextTokenizer | null; // null when opened with { tokenizer: false }
  generationConfig: Record<string, unknown> | null;
  graph: OnnxGraph | ModelWeights;
}

export interface OnnxGraph {
  kind: 'onnx';
  name: string; // onnx/model.onnx as messages name it
  model: Uint8Array;
  externalData: ExternalDataFile[];
}

export interface ModelWeights {
  kind: 'weights';
  ir: ModelIR;
  weightBytes: number;
}

export interface OpenRunnableOptions {
  /** How messages name the model as a whole, e.g. its folder or store id. */
  where: string;
  display?: DisplayName;
  /** Only a compressed model will do: a missing onnx/model.onnx is an error naming it. */
  onnxOnly?: boolean;
  /** Read the tokenizer files too (default true). */
  tokenizer?: boolean;
  /** Bytes of the graph and external data read so far, of `total`. */
  onBytes?: (done: number, total: number) => void;
  /**
   * Where the graph and its external data are read to (default: a new Uint8Array each). The
   * CPU engine passes blocks of its wasm memory, so the stored weights are held once.
   */
  allocate?: (bytes: number, file: string) => Uint8Array;
}

// Whole-file reads go in pieces of this size, so progress moves and no single read is huge.
const READ_PIECE = 8 * 1024 * 1024;

export async function openRunnableModel(open: OpenModelFile, o: OpenRunnableOptions): Promise<RunnableModel> {
  const display = o.display ?? ((p: string) => p);
  const need = async (path: string): Promise<ByteSource> => {
    const src = await open(path);
    if (!src) throw new ShrinkrayError('missing_file', `${display(path)} is missing: ${o.where} has no ${path}`);
    return src;
  };
  // What kind of model first, then the config. A compressed model's graph is read and checked
  // whole before the tokenizer (it is most of what loading does); an imported model's small
  // files come before its weights, which are only opened, lazily.
  const onnx = await open(MODEL_FILES.onnxModel);
  if (!onnx && !o.onnxOnly && !(await open(MODEL_FILES.weights)) && !(await open(MODEL_FILES.weightIndex))) {
    throw new ShrinkrayError('missing_file',
      `${o.where} holds neither ${MODEL_FILES.onnxModel} (a compressed model) nor ${MODEL_FILES.weights} (an imported one)`);
  }
  const configJson = await readJsonSource(await need(MODEL_FILES.config));
  const config = parseHfConfig(configJson, display(MODEL_FILES.config));
  const tokenizerOf = () => (o.tokenizer === false ? null : openTokenizer(open, need, config));
  let graph: OnnxGraph | ModelWeights;
  let tokenizer: TextTokenizer | null;
  if (onnx || o.onnxOnly) {
    graph = await readOnnxGraph(onnx ?? (await need(MODEL_FILES.onnxModel)), need, display, o.onBytes, o.allocate);
    tokenizer = await tokenizerOf();
  } else {
    tokenizer = await tokenizerOf();
    const { ir, weights } = await openHfModel(open, display);
    graph = { kind: 'weights', ir, weightBytes: weightFileBytes(weights) };
  }
  const generationSource = await open(MODEL_FILES.generationConfig);
  const generationConfig = generationSource ? await readJsonSource(generationSource) : null;
  return { config, configJson, tokenizer, generationConfig, graph };
}

/** tokenizer.json with tokenizer_config.json; chat_template.jinja supplies the template when the config has none, as transformers does. */
async function openTokenizer(open: OpenModelFile, need: (path: string) => Promise<ByteSource>, config: ModelConfig): Promise<TextTokenizer> {
  const tokenizerJson = await readJsonSource(await need(MODEL_FILES.tokenizer));
  const configSource = await open(MODEL_FILES.tokenizerConfig);
  const tokenizerConfig = configSource ? await readJsonSource(configSource) : {};
  const templateSource = tokenizerConfig.chat_template === undefined ? await open(MODEL_FILES.chatTemplate) : undefined;
  if (templateSource) tokenizerConfig.chat_template = new TextDecoder().decode(await readAll(templateSource));
  return new TextTokenizer(tokenizerJson, tokenizerConfig, config);
}

/** The graph and every external data file it names; a location must be a plain file name beside the graph. */
async function readOnnxGraph(
  src: ByteSource, need: (path: string) => Promise<ByteSource>, display: DisplayName, onBytes?: (done: number, total: number) => void,
  allocate?: (bytes: number, file: string) => Uint8Array,
): Promise<OnnxGraph> {
  const name = display(MODEL_FILES.onnxModel);
  const model = await readAll(src, undefined, allocate?.(src.size, name));
  const externalData: ExternalDataFile[] = [];
  const sources: [string, ByteSource][] = [];
  for (const [location, needed] of inspectOnnx(model, name).externalFiles) {
    if (!/^[\w.-]+$/.test(location) || location === '.' || location === '..') {
      throw new ShrinkrayError('bad_file', `${name}: external data location ${JSON.stringify(location)} must be a file name beside the graph`);
    }
    const data = await need(onnxDataPath(location));
    if (data.size < needed) {
      throw new ShrinkrayError('bad_file', `${display(onnxDataPath(location))} holds ${data.size} bytes; ${name} needs at least ${needed} (truncated?)`);
    }
    sources.push([location, data]);
  }
  const total = src.size + sources.reduce((s, [, d]) => s + d.size, 0);
  let done = src.size;
  onBytes?.(done, total);
  for (const [location, data] of sources) {
    externalData.push({ path: location, data: await readAll(data, (n) => onBytes?.((done += n), total), allocate?.(data.size, location)) });
  }
  return { kind: 'onnx', name, model, externalData };
}

/** A whole file in memory (onnxruntime needs the graph and its weights as bytes), read piecewise. */
async function readAll(src: ByteSource, onPiece?: (bytes: number) => void, into?: Uint8Array): Promise<Uint8Array> {
  const out = into ?? new Uint8Array(src.size);
  for (let at = 0; at < src.size; at += READ_PIECE) {
    const n = Math.min(READ_PIECE, src.size - at);
    out.set(await src.read(at, n), at);
    onPiece?.(n);
  }
  return out;
}

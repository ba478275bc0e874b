import { ShrinkrayError } from '../errors.ts';
import type { ByteSource, DisplayName, OpenModelFile } from '../formats/byte-source.ts';
import { readJsonSource } from '../formats/json-file.ts';
import { MODEL_FILES, onnxDataPath } from '../formats/model-folder-layout.ts';
import { inspectOnnx } from '../formats/onnx/onnx-reader.ts';
import type { ModelConfig } from '../model/config.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import { openHfModel, weightFileBytes } from '../model/hf-model.ts';
import type { ModelIR } from '../model/ir.ts';
import { checkGraphFitsConfig } from './onnx-graph-check.ts';
import type { ExternalDataFile } from './onnx-session.ts';
import { TextTokenizer, type ModelTokenizer, type TokenizerFileNames } from './tokenizer.ts';
import { TOKENIZER_BUDGET } from './tokenizer-budget.ts';

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
  /** config.json as messages name it. */
  configName: string;
  tokenizer: ModelTokenizer | null; // null when opened with { tokenizer: false }
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
  /** Builds the tokenizer (default: a TextTokenizer on this thread; the CLI guards one on a worker thread). */
  makeTokenizer?: (parts: TokenizerParts) => ModelTokenizer | Promise<ModelTokenizer>;
}

/** The tokenizer's files as read, with the names errors give them. */
export interface TokenizerParts {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  config: ModelConfig;
  /** generation_config.json, for its end tokens. */
  generationConfig: Record<string, unknown> | null;
  names: TokenizerFileNames;
}

const MAX_GRAPH_BYTES = 2 ** 31;
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
    throw new ShrinkrayError(
      'missing_file',
      `${o.where} holds neither ${MODEL_FILES.onnxModel} (a compressed model) nor ${MODEL_FILES.weights} (an imported one)`,
    );
  }
  const configJson = await readJsonSource(await need(MODEL_FILES.config));
  const config = parseHfConfig(configJson, display(MODEL_FILES.config));
  const make =
    o.makeTokenizer ??
    ((p: TokenizerParts) => new TextTokenizer(p.tokenizerJson, p.tokenizerConfig, p.config, p.names, p.generationConfig));
  const generationSource = await open(MODEL_FILES.generationConfig);
  const generationConfig = generationSource ? await readJsonSource(generationSource) : null;
  const tokenizerOf = async () =>
    o.tokenizer === false ? null : make(await readTokenizerParts(open, need, display, config, generationConfig));
  let tokenizer: ModelTokenizer | null = null;
  try {
    let graph: OnnxGraph | ModelWeights;
    if (onnx || o.onnxOnly) {
      graph = await readOnnxGraph(onnx ?? (await need(MODEL_FILES.onnxModel)), need, display, config, o.onBytes, o.allocate);
      tokenizer = await tokenizerOf();
    } else {
      tokenizer = await tokenizerOf();
      const { ir, weights } = await openHfModel(open, display);
      graph = { kind: 'weights', ir, weightBytes: weightFileBytes(weights) };
    }
    return { config, configJson, configName: display(MODEL_FILES.config), tokenizer, generationConfig, graph };
  } catch (e) {
    await tokenizer?.dispose?.(); // a tokenizer running on another thread is stopped, not left behind
    throw e;
  }
}

/** tokenizer.json with tokenizer_config.json (and generation_config.json, read already); chat_template.jinja supplies the template when the config has none, as transformers does. */
async function readTokenizerParts(
  open: OpenModelFile,
  need: (path: string) => Promise<ByteSource>,
  display: DisplayName,
  config: ModelConfig,
  generationConfig: Record<string, unknown> | null,
): Promise<TokenizerParts> {
  const tokenizerJson = await readJsonSource(await need(MODEL_FILES.tokenizer));
  const configSource = await open(MODEL_FILES.tokenizerConfig);
  const tokenizerConfig = configSource ? await readJsonSource(configSource) : {};
  let chatTemplate = display(MODEL_FILES.tokenizerConfig);
  const templateSource = tokenizerConfig.chat_template === undefined ? await open(MODEL_FILES.chatTemplate) : undefined;
  if (templateSource) {
    chatTemplate = display(MODEL_FILES.chatTemplate);
    // UTF-8 takes at most 4 bytes a character: a larger file cannot be within the budget, so it is not read.
    if (templateSource.size > 4 * TOKENIZER_BUDGET.templateChars) {
      throw new ShrinkrayError(
        'bad_file',
        `${chatTemplate}: ${templateSource.size} bytes is above the ${TOKENIZER_BUDGET.templateChars} characters a chat template may have`,
      );
    }
    tokenizerConfig.chat_template = new TextDecoder().decode(await readAll(templateSource));
  }
  const names: TokenizerFileNames = {
    tokenizer: display(MODEL_FILES.tokenizer),
    tokenizerConfig: display(MODEL_FILES.tokenizerConfig),
    chatTemplate,
    config: display(MODEL_FILES.config),
    generationConfig: display(MODEL_FILES.generationConfig),
  };
  return { tokenizerJson, tokenizerConfig, config, generationConfig, names };
}

/**
 * The graph and the external data it names. The graph is checked against the config first;
 * then, of each data file (a plain file name beside the graph, checked by the reader), only
 * the initializers' ranges are read, after checking they lie inside it: a file much larger
 * than its graph needs costs nothing, and one that cannot hold them fails before any read.
 */
async function readOnnxGraph(
  src: ByteSource,
  need: (path: string) => Promise<ByteSource>,
  display: DisplayName,
  config: ModelConfig,
  onBytes?: (done: number, total: number) => void,
  allocate?: (bytes: number, file: string) => Uint8Array,
): Promise<OnnxGraph> {
  const name = display(MODEL_FILES.onnxModel);
  // A protobuf message, the graph included, cannot exceed 2 GiB: anything larger is not a model onnxruntime loads.
  if (src.size > MAX_GRAPH_BYTES)
    throw new ShrinkrayError('bad_file', `${name}: ${src.size} bytes is above the 2 GiB a protobuf graph may have`);
  const model = await readAll(src, allocate?.(src.size, name));
  const summary = inspectOnnx(model, name);
  checkGraphFitsConfig(summary, config, name, display(MODEL_FILES.config));
  const files: { location: string; data: ByteSource; end: number; ranges: [number, number][] }[] = [];
  for (const [location, end] of summary.externalFiles) {
    const data = await need(onnxDataPath(location));
    if (data.size < end) {
      throw new ShrinkrayError(
        'bad_file',
        `${display(onnxDataPath(location))} holds ${data.size} bytes; ${name} needs at least ${end} (truncated?)`,
      );
    }
    files.push({ location, data, end, ranges: mergeRanges(summary.externalRanges.get(location) ?? []) });
  }
  const total = src.size + files.reduce((s, f) => s + f.ranges.reduce((n, [a, b]) => n + b - a, 0), 0);
  let done = src.size;
  onBytes?.(done, total);
  const externalData: ExternalDataFile[] = [];
  for (const f of files) {
    // onnxruntime finds each initializer at its offset, so the buffer spans up to the last one; gaps stay zero.
    const out = allocate?.(f.end, f.location) ?? new Uint8Array(f.end);
    for (const [from, to] of f.ranges) {
      for (let at = from; at < to; at += READ_PIECE) {
        const n = Math.min(READ_PIECE, to - at);
        out.set(await f.data.read(at, n), at);
        onBytes?.((done += n), total);
      }
    }
    externalData.push({ path: f.location, data: out });
  }
  return { kind: 'onnx', name, model, externalData };
}

/** Byte ranges [offset, offset + length), sorted and with overlaps merged. */
function mergeRanges(ranges: readonly { offset: number; length: number }[]): [number, number][] {
  const sorted = ranges
    .map((r): [number, number] => [r.offset, r.offset + r.length])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** A whole file in memory (onnxruntime needs the graph as bytes), read piecewise. */
async function readAll(src: ByteSource, into?: Uint8Array): Promise<Uint8Array> {
  const out = into ?? new Uint8Array(src.size);
  for (let at = 0; at < src.size; at += READ_PIECE) {
    const n = Math.min(READ_PIECE, src.size - at);
    out.set(await src.read(at, n), at);
  }
  return out;
}

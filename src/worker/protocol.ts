import type { ShrinkrayReport } from '../compress/report.ts';
import type { TensorOutcome } from '../compress/tensor-outcome.ts';
import type { EngineChoice, EngineKind } from '../jobs/open-engine.ts';
import type { ModelConfig } from '../model/config.ts';
import type { LayerTensorKey, LinearKind, ModelTensorKey } from '../model/tensor-table.ts';
import type { ChatMessage } from '../runtime/tokenizer.ts';
import type { ModelSource } from '../store/manifest.ts';
import type { StoreUsage } from '../store/store-types.ts';

/**
 * Everything that crosses the worker boundary, and nothing else. The workers expose these
 * interfaces through comlink; src/worker/client.ts wraps them for the page. Callbacks cross
 * as comlink proxies, cancellation as a MessagePort, errors as ShrinkrayErrors (errors.ts).
 */

/** Which part of a long call is running; the UI shows one progress bar per stage. */
export type ProgressStage = 'download' | 'prepare' | 'calibrate' | 'compress' | 'write' | 'load' | 'perplexity' | 'import' | 'export';

/** One progress report: `done` of `total` units (bytes for download/write/import/export, steps for prepare, decoder blocks for calibrate, tensors for compress, documents for perplexity). */
export interface Progress {
  stage: ProgressStage;
  done: number;
  total: number;
  /** What is being worked on: a file name, a tensor name, a block ('layer 3'), or the step being prepared. */
  item?: string;
  /** The compress stage: the tensor being compressed, placed by the worker. */
  tensor?: TensorPlace;
  /** Download speed, for the download stage. */
  bytesPerSecond?: number;
}

/** Receives progress reports; called without awaiting, so it must not throw. */
export type ProgressCallback = (p: Progress) => void;

/** The only message a cancel port carries: the caller's AbortSignal fired. */
export interface CancelMessage {
  type: 'cancel';
  reason: string;
}

/**
 * One end of a MessageChannel, transferred with a long call: the client posts a
 * CancelMessage on it when the caller aborts (an AbortSignal itself cannot be posted).
 * Absent when the caller passed no signal.
 */
export type CancelPort = MessagePort;

/**
 * Calibration text sent with a recipe (GPTQ, AWQ, Wanda, SparseGPT; with ffn/heads it makes
 * their scores activation-aware). Documents are separated by <|endoftext|>; the worker cuts
 * the tokens into windows of 512 (or the context length), `windows` of them (default 128),
 * picked by `seed` (default 0) when the text holds more.
 */
export interface CalibrationRequest {
  text: string;
  name: string; // shown in the report: a file name, 'built-in: …', 'pasted text'
  windows?: number;
  seed?: number;
}

/** Where a model comes from: a repo on the Hugging Face hub (or a mirror at `hubUrl`). */
export interface HubModelRequest {
  kind: 'hub';
  repo: string;
  revision?: string;
  hubUrl?: string;
  /** An access token for gated or private repos: sent to hubUrl as `Authorization: Bearer`, never stored with the model. */
  token?: string;
}

/** What a model the store holds looks like from the page. */
export interface StoredModelInfo {
  id: string;
  source: ModelSource;
  files: { path: string; size: number }[];
  /** Sum of the file sizes. */
  bytes: number;
  /** For compressed models: the recipe text. */
  recipe?: string;
  /** For compressed models: shrinkray.json's content (sizes, per-tensor errors, timing, and the evaluation once measured). */
  report?: StoredReport;
  createdAt?: number;
}

/** What a hub repo would cost, found before any weight byte is fetched. */
export interface HubPreflight {
  repo: string;
  revision: string;
  hubUrl: string;
  format: 'safetensors' | 'onnx';
  /** Every file the download would fetch, metadata first; size undefined where the hub did not say. */
  files: { path: string; size?: number }[];
  /** Sum of the known sizes. */
  totalBytes: number;
  /** Bytes an earlier, cancelled download already staged (they are not fetched again). */
  stagedBytes: number;
  /** What the store still has to take: totalBytes - stagedBytes. */
  needBytes: number;
  /** Free bytes under the browser's quota (less a safety margin); undefined where the browser does not say. */
  freeBytes?: number;
  /** Whether needBytes fits in freeBytes (true when the browser gives no estimate: the write will tell). */
  fits: boolean;
  /** config.json's architecture, as written there. */
  architecture?: string;
  /** Why the model cannot be compressed or run here (unsupported architecture, bad config), as a sentence. */
  problem?: string;
}

/** One file the page hands over (from a file picker, a folder picker or a drop). `path` is relative to the dropped folder. */
export interface LocalFile {
  path: string;
  file: File;
}

/** What a local import turned out to be. */
/** What an exported demo site needs from the page: where the app serves the built site runtime, and the model's name. */
export interface SiteExportRequest {
  /** The URL of the app's built site runtime folder (site-runtime/), ending in '/'. */
  runtimeBase: string;
  /** The name the site's page shows. */
  title: string;
}

export type LocalImportKind = 'hf-folder' | 'llama2c' | 'gguf' | 'exported-zip' | 'exported-folder';

export type { LayerTensorKey, LinearKind, ModelTensorKey };

/** A row of the tensor table (src/model/tensor-table.ts): 'embedding', 'attnNorm', 'q' … 'down', … */
export type TensorKey = LayerTensorKey | ModelTensorKey;

/** Where a tensor sits, worked out by the worker from its name (the tensor table's parseTensorName): the page never takes a name apart. */
export interface TensorPlace {
  name: string; // as the model names it, e.g. model.layers.3.self_attn.q_proj.weight
  layer: number | null; // decoder layer; null for the embedding, final norm and classifier
  key: TensorKey | null; // its row in the tensor table; null for a name the table has no row for
  linear: LinearKind | null; // which projection, for a decoder block's linear layers
}

/** One tensor of a report as the page gets it: shrinkray.json's entry, where the tensor sits, and how wide its stored codes are. */
export interface ReportTensor extends TensorOutcome, TensorPlace {
  bits: number; // bits per stored weight code: 4 for int4-g32, 16 for fp16, 32 for fp32
}

/**
 * shrinkray.json as the page gets it: the compression's report, plus the evaluation the app adds
 * once it has measured both models. Its tensors carry their place (ReportTensor); the file itself
 * keeps shrinkray.json's plain entries.
 */
export interface StoredReport extends Omit<ShrinkrayReport, 'tensors'> {
  tensors: ReportTensor[];
  evaluation?: ModelEvaluation;
}

/** Perplexity and decode speed of one model, as the report stores them. */
export interface ModelMeasurement {
  modelId: string;
  ppl: number;
  nll: number;
  tokens: number;
  docs: number;
  /** Decode speed of a greedy generation of `decodeTokens` tokens from BOS. */
  tokensPerSecond: number;
  decodeTokens: number;
}

/** The evaluation part of a compressed model's report: both models measured on the same text and device. */
export interface ModelEvaluation {
  /** What was scored: a built-in text's name or 'pasted text'. */
  textName: string;
  textChars: number;
  device: 'wasm' | 'webgpu';
  /** What ran the compressed model (absent in evaluations stored before the CPU engine). */
  engine?: 'cpu' | 'onnx';
  simd?: 'relaxed' | 'plain';
  threads: number;
  /** The source model's figures; null when it is not stored or could not run (then `beforeProblem` says why). */
  before: ModelMeasurement | null;
  beforeProblem?: string;
  /** How the original's weights ran when not as stored, e.g. 'fp16 (from BF16)' (LoadedModelInfo.weights). */
  beforeWeights?: string;
  after: ModelMeasurement;
  measuredAt: number;
}

/** Which store the worker opens; tests use their own database name. */
export interface WorkerOptions {
  storeName?: string;
}

/** The compress worker: downloads into the store, compresses stored models into new stored models. */
export interface CompressWorkerApi {
  /** Sets the store; call before anything else, or the default store is used. */
  configure(options: WorkerOptions): Promise<void>;
  /** Downloads a hub model into the store (resuming what an earlier attempt staged). */
  download(source: HubModelRequest, onProgress?: ProgressCallback, cancel?: CancelPort): Promise<StoredModelInfo>;
  /** Compresses a stored model with a recipe into a new stored model, committed all at once. */
  compress(
    modelId: string,
    recipe: string,
    onProgress?: ProgressCallback,
    cancel?: CancelPort,
    calibration?: CalibrationRequest,
  ): Promise<StoredModelInfo>;
  /** Every committed model, oldest first. */
  list(): Promise<StoredModelInfo[]>;
  /** Deletes a model and the files only it used. */
  delete(modelId: string): Promise<void>;
  /** Storage used by models and staged writes, against the browser's quota. */
  usage(): Promise<StoreUsage>;
  /** Lists a hub repo's files and sizes and checks them against the quota and the architecture; fetches no weight byte. */
  preflight(source: HubModelRequest): Promise<HubPreflight>;
  /** Fetches a model folder served at `baseUrl` (the bundled demo) into the store as one model. */
  importUrlFolder(
    baseUrl: string,
    files: string[],
    as: { id: string; name: string },
    onProgress?: ProgressCallback,
    cancel?: CancelPort,
  ): Promise<StoredModelInfo>;
  /**
   * A share link's compressed model folder (http(s) URL): config, report, files, sizes and quota
   * checked before any weight byte is fetched (refused with a ShrinkrayError naming the URL), then
   * downloaded into the store as a model whose source is the URL.
   */
  importModelUrl(url: string, onProgress?: ProgressCallback, cancel?: CancelPort): Promise<StoredModelInfo>;
  /** A GGUF file at an http(s) URL: header checked by Range requests, downloaded in resumable ranges into the store, converted tensor by tensor. */
  importGgufUrl(url: string, onProgress?: ProgressCallback, cancel?: CancelPort): Promise<StoredModelInfo>;
  /** Imports files from disk (an HF folder, a llama2.c checkpoint + tokenizer, or a zip/folder this app exported), in slices. */
  importLocal(
    files: LocalFile[],
    onProgress?: ProgressCallback,
    cancel?: CancelPort,
  ): Promise<StoredModelInfo & { importedAs: LocalImportKind }>;
  /** A compressed model as a zip in transformers.js layout, read from the store piece by piece. */
  exportZip(modelId: string, onProgress?: ProgressCallback, cancel?: CancelPort): Promise<Blob>;
  /** A compressed model as a demo site in a zip (the site runtime fetched from request.runtimeBase). */
  exportSite(modelId: string, request: SiteExportRequest, onProgress?: ProgressCallback, cancel?: CancelPort): Promise<Blob>;
  /** The parsed config.json of a stored model (for checking recipes as the user types). */
  modelConfig(modelId: string): Promise<ModelConfig>;
  /** Stores an evaluation in a compressed model's report (shrinkray.json and the manifest). */
  saveEvaluation(modelId: string, evaluation: ModelEvaluation): Promise<StoredModelInfo>;
}

/** Where the chat worker runs a model: 'auto' picks WebGPU on a real GPU adapter, else wasm. */
export type ChatDevice = 'auto' | 'wasm' | 'webgpu';

/** How to run a loaded model; `threads` (wasm) takes effect at the worker's first load only, as onnxruntime reads it once. */
export interface LoadOptions {
  device?: ChatDevice;
  threads?: number;
  /**
   * Which engine runs the model (jobs/open-engine.ts): 'auto' (default) our CPU engine when the device
   * resolves to wasm (no usable WebGPU adapter), onnxruntime-web on WebGPU; 'cpu' or 'onnx' to choose.
   */
  engine?: Exclude<EngineChoice, 'reference'>;
  /**
   * A stored model (the compressed copy) that drafts for this one: speculative decoding, the same
   * greedy replies (and, sampling, the same distribution) as the model alone (src/runtime/speculative.ts).
   * Its tokenizer must be this model's.
   */
  draft?: string;
}

/** What the chat worker loaded. */
export interface LoadedModelInfo {
  id: string;
  /** 'onnx' runs the stored ONNX graph; 'safetensors' means an fp32 graph was built from the stored weights. */
  format: 'onnx' | 'safetensors';
  device: 'wasm' | 'webgpu';
  /** What runs it: the CPU engine, or onnxruntime-web (on `device`). */
  engine: Exclude<EngineKind, 'reference'>;
  /** The CPU engine's SIMD flavour (relaxed where the browser has it). */
  simd?: 'relaxed' | 'plain';
  /** Why the CPU engine was asked for but onnxruntime-web runs the model (an op or layout the engine does not run). */
  fallback?: string;
  /** Threads of the engine that runs it (1 when the page is not cross-origin isolated). */
  threads: number;
  vocabSize: number;
  contextLength: number;
  hasChatTemplate: boolean;
  loadMs: number;
  /**
   * How the CPU engine holds an imported model's matrices when not as stored: 'fp16 (from BF16)'
   * for a bf16 checkpoint (its fp32 copy would not fit the wasm memory for 1B parameters).
   */
  weights?: string;
  /** The CPU engine's wasm memory when loaded: the stored model's bytes, scratch, the task block (KV caches come on top as they grow). */
  memoryBytes?: number;
  /** The draft loaded beside it (LoadOptions.draft). */
  draft?: LoadedModelInfo;
}

/** A prompt: plain text (a completion; BOS is prepended) or a conversation (rendered with the chat template). */
export type PromptInput = { text: string } | { messages: ChatMessage[] };

/** How to generate. */
export interface GenerateRequest {
  prompt: PromptInput;
  maxNewTokens: number;
  temperature?: number; // 0 or absent: greedy
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  /** With a draft loaded: tokens it proposes per round (default 4). */
  draftTokens?: number;
}

/** One streamed step: the new token and the text that became final with it (often '' mid-character); id null: the text held back until the end. */
export interface TokenPiece {
  id: number | null;
  text: string;
}

/** Receives tokens as they are made; called without awaiting. */
export type TokenCallback = (piece: TokenPiece) => void;

/** How a generation went. Cancelling is not an error: the tokens so far come back with stoppedBy 'abort'. */
export interface GenerateSummary {
  text: string;
  ids: number[];
  promptTokens: number;
  stoppedBy: 'eos' | 'length' | 'abort';
  prefillMs: number;
  decodeMs: number;
  /** Decode speed: tokens made after the prompt's pass per second (0 when there were none). */
  tokensPerSecond: number;
  /** With a draft: the share of its proposals kept, and the model's forward passes per generated token (1 without a draft). */
  drafted?: { draftTokens: number; acceptanceRate: number; targetPassesPerToken: number };
}

/** Perplexity of the loaded model on a text of documents separated by <|endoftext|>. */
export interface PerplexitySummary {
  nll: number;
  ppl: number;
  tokens: number;
  docs: number;
  ms: number;
}

/** The chat worker: runs one stored model at a time with onnxruntime-web. */
export interface ChatWorkerApi {
  configure(options: WorkerOptions): Promise<void>;
  /** Loads a stored model (replacing the loaded one); reads only the store, never the network. */
  load(modelId: string, options?: LoadOptions, onProgress?: ProgressCallback): Promise<LoadedModelInfo>;
  /** Streams tokens of a completion or chat reply. */
  generate(request: GenerateRequest, onToken?: TokenCallback, cancel?: CancelPort): Promise<GenerateSummary>;
  /** Perplexity on `text` (documents separated by <|endoftext|>). */
  evaluate(text: string, options?: { maxDocs?: number }, onProgress?: ProgressCallback, cancel?: CancelPort): Promise<PerplexitySummary>;
  /** Frees the loaded session. */
  unload(): Promise<void>;
}

/** How a ShrinkrayError travels inside comlink's 'throw' message (src/errors.ts, as on every channel). */
export type { SerializedShrinkrayError } from '../errors.ts';

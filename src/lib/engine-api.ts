/**
 * The library's public types: `createEngine(source, options)` from 'shrinkray', answering in the
 * shape of OpenAI's chat completions (as WebLLM does), so code written for those runs on a model
 * Shrinkray compressed. Types only: the browser entry (lib/index.ts) and the Node entry
 * (lib/node.ts) implement them.
 */

/**
 * Where the model is. A compressed model folder holds config.json, tokenizer.json,
 * tokenizer_config.json, generation_config.json and onnx/model.onnx (+ onnx/model.onnx_data).
 * - an http(s) URL (string or URL) of the folder: each file fetched whole with a plain GET;
 * - File[] or a FileList: a folder the user picked (paths from webkitRelativePath, else name);
 * - `{ stored: id }`, or a string that is not a URL: a model in this page's Shrinkray store (IndexedDB);
 * - in Node: a folder path, or a file: URL.
 */
export type EngineSource = string | URL | readonly File[] | FileList | { stored: string };

export interface LoadProgress {
  /** 'download': the folder's files arriving; 'load': the graph read into the engine. */
  stage: 'download' | 'load';
  done: number;
  total: number;
}

export interface CreateEngineOptions {
  /** Browser: run in a dedicated Worker (default true); false runs on this thread (for code already in a worker). Node: ignored. */
  worker?: boolean;
  /** 'auto' (default): the CPU engine (WASM SIMD) unless the device resolves to WebGPU; 'onnx': onnxruntime-web. */
  engine?: 'auto' | 'cpu' | 'onnx';
  /** Where onnxruntime-web runs: 'auto' picks WebGPU on a real GPU adapter, else wasm. */
  device?: 'auto' | 'wasm' | 'webgpu';
  /** CPU engine threads (default: up to 4 on a cross-origin isolated page, else 1; Node: 1). */
  threads?: number;
  onProgress?: (p: LoadProgress) => void;
  /** Cancels the load: createEngine rejects with a ShrinkrayError 'aborted'. */
  signal?: AbortSignal;
}

export interface EngineInfo {
  /** The model: its URL, folder, store id or picked folder's name. */
  model: string;
  engine: 'cpu' | 'onnx';
  device: 'wasm' | 'webgpu';
  threads: number;
  /** The CPU engine's SIMD flavour. */
  simd?: 'relaxed' | 'plain';
  /** Why 'cpu' was asked for but onnxruntime-web runs the model. */
  fallback?: string;
  contextLength: number;
  vocabSize: number;
  /** Whether tokenizer_config.json has a chat template (chat.completions needs one). */
  hasChatTemplate: boolean;
  loadMs: number;
}

export interface ChatCompletionMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Sampling, as OpenAI names it. Defaults: greedy (temperature 0), so a demo's text is reproducible. */
export interface SamplingParams {
  /** 0 (default) is greedy: the most likely token each step. */
  temperature?: number;
  /** 1 (default) keeps all tokens. */
  top_p?: number;
  /** 0 (default) keeps all tokens. */
  top_k?: number;
  /** New tokens at most (default 256; the context length bounds it too). */
  max_tokens?: number;
  /** The sampler's seed (default 0): the same seed gives the same text. */
  seed?: number;
  /** > 1 discourages repeating tokens; 1 (default) is off. */
  repetition_penalty?: number;
  /** Stops generation within one token; the text so far comes back with finish_reason 'abort'. */
  signal?: AbortSignal;
}

export interface ChatCompletionRequest extends SamplingParams {
  messages: readonly ChatCompletionMessage[];
  stream?: boolean;
}

/** 'stop': an end token; 'length': max_tokens or the context length; 'abort': the signal. */
export type FinishReason = 'stop' | 'length' | 'abort';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  /** Seconds since the epoch. */
  created: number;
  model: string;
  choices: [{ index: 0; message: { role: 'assistant'; content: string }; finish_reason: FinishReason }];
  usage: CompletionUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /** The first chunk carries role 'assistant'; the last carries finish_reason (and usage) with no content. */
  choices: [{ index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: FinishReason | null }];
  usage?: CompletionUsage;
}

export interface GenerateParams extends SamplingParams {
  /** An alias of max_tokens. */
  maxTokens?: number;
  /** Each new token and the text that became final with it (id null: text held back until the end). */
  onToken?: (piece: { id: number | null; text: string }) => void;
}

export interface GenerateOutput {
  text: string;
  /** The new token ids (not the prompt's, not the end token). */
  ids: number[];
  finish_reason: FinishReason;
  usage: CompletionUsage;
}

export interface ChatCompletions {
  create(request: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(request: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
  create(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
}

export interface Engine {
  readonly info: EngineInfo;
  readonly chat: { readonly completions: ChatCompletions };
  /** Plain completion: BOS + `prompt`, no chat template. */
  generate(prompt: string, params?: GenerateParams): Promise<GenerateOutput>;
  /** Frees the model (and ends its worker); any later call fails with a ShrinkrayError 'bad_argument'. */
  unload(): Promise<void>;
}

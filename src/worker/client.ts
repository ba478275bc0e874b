import * as Comlink from 'comlink';
import { whileBusy } from '../pwa/busy-lock.ts';
import { cancelPortFor } from './cancel.ts';
import { registerErrorTransfer } from './errors.ts';
import { watchedWorker } from './watched-worker.ts';
import type {
  SiteExportRequest,
  CalibrationRequest,
  ChatWorkerApi,
  CompressWorkerApi,
  GenerateRequest,
  GenerateSummary,
  HubModelRequest,
  HubPreflight,
  LoadedModelInfo,
  LoadOptions,
  LocalFile,
  LocalImportKind,
  ModelEvaluation,
  PerplexitySummary,
  Progress,
  StoredModelInfo,
  TokenPiece,
  WorkerOptions,
} from './protocol.ts';
import type { ModelConfig } from '../model/config.ts';
import type { StoreUsage } from '../store/store-types.ts';

export type * from './protocol.ts';
export type { StoreUsage } from '../store/store-types.ts';
export type { ModelConfig } from '../model/config.ts';
export { DEFAULT_HUB_URL } from '../fetch/hub-url.ts';
// A job made of several calls (load, measure, store) holds the busy lock for all of them.
export { whileBusy } from '../pwa/busy-lock.ts';
// A model folder's file names (the demo's config.json is probed by the page).
export { MODEL_FILES } from '../formats/model-folder-layout.ts';
// A share link's model folder: its spelling and the id it is stored under, the same on both sides.
export { isModelUrl, modelFolderUrl, urlModelId, urlModelName } from '../fetch/model-url.ts';
// The decoder block's projections in order, from the tensor table: the columns of the width grid and the error chart.
export { LINEAR_KINDS } from '../model/tensor-table.ts';
// Pure recipe checks and the preset table: the page checks a recipe as the user types, without a worker round trip.
export { checkRecipe, RECIPE_PRESETS, type RecipeCalibration, type RecipeCheck, type RecipePreset } from './recipe-check.ts';
// The UI imports only this module: the one error class it catches comes from here too.
export { isShrinkrayError, ShrinkrayError, type ShrinkrayErrorCode } from '../errors.ts';

/**
 * What the UI imports: the two workers behind typed async functions. Long calls take an
 * AbortSignal; progress and tokens arrive through plain callbacks; every failure is a
 * ShrinkrayError with its code (src/worker/errors.ts rebuilds it on this side).
 */
export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface CompressClient {
  download(source: HubModelRequest, options?: CallOptions): Promise<StoredModelInfo>;
  compress(modelId: string, recipe: string, options?: CallOptions & { calibration?: CalibrationRequest }): Promise<StoredModelInfo>;
  list(): Promise<StoredModelInfo[]>;
  delete(modelId: string): Promise<void>;
  usage(): Promise<StoreUsage>;
  preflight(source: HubModelRequest): Promise<HubPreflight>;
  importUrlFolder(baseUrl: string, files: string[], as: { id: string; name: string }, options?: CallOptions): Promise<StoredModelInfo>;
  importModelUrl(url: string, options?: CallOptions): Promise<StoredModelInfo>;
  importGgufUrl(url: string, options?: CallOptions): Promise<StoredModelInfo>;
  importLocal(files: LocalFile[], options?: CallOptions): Promise<StoredModelInfo & { importedAs: LocalImportKind }>;
  exportZip(modelId: string, options?: CallOptions): Promise<Blob>;
  exportSite(modelId: string, request: SiteExportRequest, options?: CallOptions): Promise<Blob>;
  modelConfig(modelId: string): Promise<ModelConfig>;
  saveEvaluation(modelId: string, evaluation: ModelEvaluation): Promise<StoredModelInfo>;
  /** Kills the worker at once (its staged writes are collected by a later start). */
  terminate(): void;
}

export interface ChatClient {
  load(modelId: string, options?: Pick<CallOptions, 'onProgress'> & LoadOptions): Promise<LoadedModelInfo>;
  generate(request: GenerateRequest, options?: { signal?: AbortSignal; onToken?: (piece: TokenPiece) => void }): Promise<GenerateSummary>;
  evaluate(text: string, options?: CallOptions & { maxDocs?: number }): Promise<PerplexitySummary>;
  unload(): Promise<void>;
  terminate(): void;
}

/**
 * Runs one long call with a cancel port for its signal; the port closes when the call ends.
 * The call holds the shared busy lock meanwhile, so the service worker's page code never
 * reloads the page (into isolation, into an update) under a running job.
 */
async function withSignal<T>(signal: AbortSignal | undefined, call: (port: MessagePort | undefined) => Promise<T>): Promise<T> {
  return whileBusy(async () => {
    const { port, done } = cancelPortFor(signal);
    try {
      return await call(port && Comlink.transfer(port, [port]));
    } finally {
      done();
    }
  });
}

const proxied = <F extends (...args: never[]) => void>(f: F | undefined) => (f ? Comlink.proxy(f) : undefined);

/** Client options: the store, and how long one tokenizer call may run before the worker is restarted (TOKENIZER_BUDGET.callMs). */
export interface ClientOptions extends WorkerOptions {
  tokenizerBudgetMs?: number;
}

/**
 * The compress client. Calibration text is tokenized on the compress worker with the model's
 * own tokenizer.json: a call that outlasts its budget restarts the worker (watched-worker.ts),
 * failing the compression with a 'bad_file' error naming tokenizer.json.
 */
export function createCompressClient(options: ClientOptions = {}): CompressClient {
  registerErrorTransfer();
  const { tokenizerBudgetMs, ...workerOptions } = options;
  const { run, terminate } = watchedWorker<CompressWorkerApi>(
    () => new Worker(new URL('./compress.worker.ts', import.meta.url), { type: 'module', name: 'shrinkray-compress' }),
    'compress',
    workerOptions,
    tokenizerBudgetMs,
    'the compress worker was stopped and started afresh',
  );
  return {
    download: (source, o = {}) => run((api) => withSignal(o.signal, (port) => api.download(source, proxied(o.onProgress), port))),
    compress: (modelId, recipe, o = {}) =>
      run((api) => withSignal(o.signal, (port) => api.compress(modelId, recipe, proxied(o.onProgress), port, o.calibration))),
    list: () => run((api) => api.list()),
    delete: (modelId) => run((api) => api.delete(modelId)),
    usage: () => run((api) => api.usage()),
    preflight: (source) => run((api) => api.preflight(source)),
    importUrlFolder: (baseUrl, files, as, o = {}) =>
      run((api) => withSignal(o.signal, (port) => api.importUrlFolder(baseUrl, files, as, proxied(o.onProgress), port))),
    importModelUrl: (url, o = {}) => run((api) => withSignal(o.signal, (port) => api.importModelUrl(url, proxied(o.onProgress), port))),
    importGgufUrl: (url, o = {}) => run((api) => withSignal(o.signal, (port) => api.importGgufUrl(url, proxied(o.onProgress), port))),
    importLocal: (files, o = {}) => run((api) => withSignal(o.signal, (port) => api.importLocal(files, proxied(o.onProgress), port))),
    exportZip: (modelId, o = {}) => run((api) => withSignal(o.signal, (port) => api.exportZip(modelId, proxied(o.onProgress), port))),
    exportSite: (modelId, request, o = {}) =>
      run((api) => withSignal(o.signal, (port) => api.exportSite(modelId, request, proxied(o.onProgress), port))),
    modelConfig: (modelId) => run((api) => api.modelConfig(modelId)),
    saveEvaluation: (modelId, evaluation) => run((api) => api.saveEvaluation(modelId, evaluation)),
    terminate,
  };
}

/** Chat client options (the same as the compress client's). */
export type ChatClientOptions = ClientOptions;

/**
 * The chat client. A tokenizer call that outlasts its budget (tokenizer-watchdog.ts) makes
 * it terminate the worker and start a fresh one: the pending call fails with a 'bad_file'
 * error naming tokenizer.json, and the next load() works as before.
 */
export function createChatClient(options: ChatClientOptions = {}): ChatClient {
  registerErrorTransfer();
  const { tokenizerBudgetMs, ...workerOptions } = options;
  const { run, terminate } = watchedWorker<ChatWorkerApi>(
    () => new Worker(new URL('./chat.worker.ts', import.meta.url), { type: 'module', name: 'shrinkray-chat' }),
    'chat',
    workerOptions,
    tokenizerBudgetMs,
    'the chat worker was stopped and started afresh: load a model again',
  );
  return {
    load: (modelId, o = {}) =>
      run((api) => api.load(modelId, { device: o.device, threads: o.threads, engine: o.engine, draft: o.draft }, proxied(o.onProgress))),
    generate: (request, o = {}) => run((api) => withSignal(o.signal, (port) => api.generate(request, proxied(o.onToken), port))),
    evaluate: (text, o = {}) =>
      run((api) => withSignal(o.signal, (port) => api.evaluate(text, { maxDocs: o.maxDocs }, proxied(o.onProgress), port))),
    unload: () => run((api) => api.unload()),
    terminate,
  };
}

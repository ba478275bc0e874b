/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { downloadHubModel } from './hub-download.ts';
import { releaseCallbacks, serialQueue, signalFromPort } from './cancel.ts';
import { runCompressJob } from './compress-job.ts';
import { registerErrorTransfer, toShrinkrayError } from './errors.ts';
import { kernelPruner, kernelQuantizer } from './kernel-pool.ts';
import { hubPreflight } from './hub-preflight.ts';
import { hubAuthHeaders } from '../fetch/hub-url.ts';
import { importGgufFromUrl } from './gguf-url-import.ts';
import { importLocalFiles } from './local-import.ts';
import { saveEvaluation, storedModelConfig } from './model-report.ts';
import type {
  SiteExportRequest,
  CalibrationRequest,
  CancelPort,
  CompressWorkerApi,
  HubModelRequest,
  LocalFile,
  ModelEvaluation,
  ProgressCallback,
  WorkerOptions,
} from './protocol.ts';
import { importUrlFolder } from './url-folder-import.ts';
import { importUrlModel } from './url-model-import.ts';
import { modelInfo, WorkerStore } from './worker-store.ts';
import { exportSiteZip } from './site-export.ts';
import { exportModelZip } from './zip-export.ts';

/**
 * The compress worker: downloads hub models into the store and compresses stored models
 * into new stored models. Only this worker writes weights; the page only sees progress,
 * results and ShrinkrayErrors.
 */
registerErrorTransfer();
const store = new WorkerStore();
const oneCompression = serialQueue(); // the memory bound is per compression: run them one after another

/** Runs a long call with the client's cancel port as an AbortSignal; errors leave as ShrinkrayErrors. */
async function cancellable<T>(cancel: CancelPort | undefined, callback: unknown, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, close } = signalFromPort(cancel);
  try {
    return await body(signal);
  } catch (e) {
    throw signal.aborted && toShrinkrayError(e).code !== 'aborted' ? toShrinkrayError(signal.reason) : toShrinkrayError(e);
  } finally {
    close();
    releaseCallbacks(callback);
  }
}

const api: CompressWorkerApi = {
  configure: (options: WorkerOptions) => store.configure(options),

  download: (source: HubModelRequest, onProgress?: ProgressCallback, cancel?: CancelPort) =>
    cancellable(cancel, onProgress, async (signal) => {
      const { manifest } = await downloadHubModel({
        store: await store.get(),
        repo: source.repo,
        revision: source.revision,
        baseUrl: source.hubUrl,
        headers: hubAuthHeaders(source.token),
        signal,
        onProgress:
          onProgress &&
          ((p) => onProgress({ stage: 'download', done: p.done, total: p.total, item: p.file, bytesPerSecond: p.bytesPerSecond })),
      });
      return modelInfo(manifest);
    }),

  compress: (modelId: string, recipe: string, onProgress?: ProgressCallback, cancel?: CancelPort, calibration?: CalibrationRequest) =>
    cancellable(cancel, onProgress, async (signal) => {
      const manifest = await oneCompression(async () =>
        runCompressJob(modelId, recipe, {
          store: await store.get(),
          quantizer: await kernelQuantizer(),
          pruner: await kernelPruner(),
          onProgress,
          signal,
          calibration,
          announce: (m) => self.postMessage(m),
        }),
      );
      return modelInfo(manifest);
    }),

  preflight: async (source: HubModelRequest) => {
    try {
      return await hubPreflight(await store.get(), source);
    } catch (e) {
      throw toShrinkrayError(e);
    }
  },

  importUrlFolder: (
    baseUrl: string,
    files: string[],
    as: { id: string; name: string },
    onProgress?: ProgressCallback,
    cancel?: CancelPort,
  ) =>
    cancellable(cancel, onProgress, async (signal) =>
      modelInfo(await importUrlFolder(await store.get(), baseUrl, files, as, onProgress, signal)),
    ),

  importModelUrl: (url: string, onProgress?: ProgressCallback, cancel?: CancelPort) =>
    cancellable(cancel, onProgress, async (signal) => modelInfo(await importUrlModel(await store.get(), url, onProgress, signal))),

  importGgufUrl: (url: string, onProgress?: ProgressCallback, cancel?: CancelPort) =>
    cancellable(cancel, onProgress, async (signal) => modelInfo(await importGgufFromUrl(await store.get(), url, onProgress, signal))),

  importLocal: (files: LocalFile[], onProgress?: ProgressCallback, cancel?: CancelPort) =>
    cancellable(cancel, onProgress, async (signal) => {
      const { manifest, kind } = await importLocalFiles(await store.get(), files, onProgress, signal);
      return { ...modelInfo(manifest), importedAs: kind };
    }),

  exportZip: (modelId: string, onProgress?: ProgressCallback, cancel?: CancelPort) =>
    cancellable(cancel, onProgress, async (signal) => exportModelZip(await store.get(), modelId, onProgress, signal)),

  exportSite: (modelId: string, request: SiteExportRequest, onProgress?: ProgressCallback, cancel?: CancelPort) =>
    cancellable(cancel, onProgress, async (signal) => exportSiteZip(await store.get(), modelId, request, onProgress, signal)),

  modelConfig: async (modelId: string) => {
    try {
      return await storedModelConfig(await store.get(), modelId);
    } catch (e) {
      throw toShrinkrayError(e);
    }
  },

  saveEvaluation: async (modelId: string, evaluation: ModelEvaluation) => {
    try {
      return modelInfo(await saveEvaluation(await store.get(), modelId, evaluation));
    } catch (e) {
      throw toShrinkrayError(e);
    }
  },

  list: async () => (await (await store.get()).listModels()).map(modelInfo),
  delete: async (modelId: string) => (await store.get()).deleteModel(modelId),
  usage: async () => (await store.get()).usage(),
};

Comlink.expose(api);

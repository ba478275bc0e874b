import { wasmCalibBackend, type CalibBackend } from '../compress/calib-backend.ts';
import type { CalibPool } from '../kernels/calib/wasm/calib-pool.ts';
import { createCalibPoolBrowser } from '../kernels/calib/wasm/calib-pool-browser.ts';
import { nestedPoolsAllowed } from './nested-pools.ts';
import { calibrationWindows, DEFAULT_WINDOW_COUNT, DEFAULT_WINDOW_LENGTH } from '../compress/calibration-windows.ts';
import type { CalibrationInput } from '../compress/calibrated-model.ts';
import type { CalibrationText } from '../compress/report.ts';
import { ShrinkrayError } from '../errors.ts';
import { readJsonSource } from '../formats/json-file.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { loadCalibWasm } from '../kernels/calib/wasm/calib-wasm.ts';
import { calibWasmUrl } from '../kernels/calib/wasm/calib-wasm-url.ts';
import type { ModelConfig } from '../model/config.ts';
import { TextTokenizer } from '../runtime/tokenizer.ts';
import type { ModelManifest } from '../store/manifest.ts';
import type { ModelStore } from '../store/store-types.ts';
import type { CalibrationRequest, ProgressCallback } from './protocol.ts';
import { storedFileOpener } from './stored-model.ts';
import { watchTokenizer, type WatchdogMessage } from './tokenizer-watchdog.ts';

/**
 * The compress worker's calibration: the text the page sent, tokenized with the stored
 * model's own tokenizer (each call watched by the page) and cut into windows exactly as the
 * CLI does (cli/calibration.ts: only the pool the draw needs, in bounded pieces),
 * run on the same WASM SIMD kernel, so the two write the same bytes.
 */
let backend: Promise<CalibBackend> | undefined;

/** The kernel on this worker, its large products on one nested worker per core (kept for the next compression). */
function calibBackend(): Promise<CalibBackend> {
  backend ??= (async () => {
    const module = await WebAssembly.compileStreaming(fetch(calibWasmUrl));
    const kernel = await loadCalibWasm(module);
    let pool: CalibPool | undefined;
    try {
      if ((navigator.hardwareConcurrency || 1) > 1 && nestedPoolsAllowed()) pool = await createCalibPoolBrowser(module);
    } catch (e) {
      console.warn('shrinkray: calibration worker pool unavailable, calibrating on the compress worker', e);
    }
    return wasmCalibBackend(kernel, pool);
  })();
  backend.catch(() => (backend = undefined));
  return backend;
}

export async function workerCalibration(
  store: ModelStore,
  manifest: ModelManifest,
  config: ModelConfig,
  request: CalibrationRequest,
  announce?: (m: WatchdogMessage) => void,
  onProgress?: ProgressCallback,
): Promise<{ input: CalibrationInput; text: CalibrationText }> {
  // Before the first block is calibrated the job says what it does (a large text or a slow pool start takes a while).
  onProgress?.({ stage: 'prepare', done: 0, total: 2, item: 'cutting the calibration text into tokens' });
  const open = storedFileOpener(store, manifest);
  const tokenizerSource = await open(MODEL_FILES.tokenizer);
  if (!tokenizerSource)
    throw new ShrinkrayError('missing_file', `model '${manifest.id}' has no ${MODEL_FILES.tokenizer} to tokenize the calibration text`);
  const configSource = await open(MODEL_FILES.tokenizerConfig);
  const raw = new TextTokenizer(await readJsonSource(tokenizerSource), configSource ? await readJsonSource(configSource) : {}, config);
  // Its regular expressions are the model's: the page stops this worker when one call runs past its budget.
  const tokenizer = announce ? watchTokenizer(raw, raw.names, announce) : raw;
  const windowLength = Math.min(DEFAULT_WINDOW_LENGTH, config.maxPositionEmbeddings);
  const seed = request.seed ?? 0;
  const w = calibrationWindows(request.text, (text, bos) => tokenizer.encode(text, { addBos: bos }), {
    windowLength,
    count: request.windows ?? DEFAULT_WINDOW_COUNT,
    seed,
  });
  onProgress?.({ stage: 'prepare', done: 1, total: 2, item: 'starting the calibration workers' });
  const calib = await calibBackend();
  onProgress?.({ stage: 'prepare', done: 2, total: 2, item: 'calibration workers ready' });
  return {
    input: { windows: w.windows, backend: calib },
    text: { name: request.name, windowLength, seed, available: w.available },
  };
}

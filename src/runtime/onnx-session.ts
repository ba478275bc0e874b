import * as ort from 'onnxruntime-web';
import { ShrinkrayError } from '../errors.ts';
import { inspectOnnx, type OnnxSummary } from '../formats/onnx/onnx-reader.ts';
// Picking a device lives apart so that it never loads onnxruntime-web (a model on the CPU engine needs none).
import { isNode, pickDevice, type ExecutionDevice } from './execution-device.ts';

/**
 * Creates onnxruntime-web sessions from bytes, in Node and in the browser, and picks the
 * execution provider: WebGPU when an adapter exists, else wasm (SIMD, plus threads when
 * the page is cross-origin isolated).
 */
export { pickDevice, type ExecutionDevice } from './execution-device.ts';

export interface OnnxSessionOptions {
  /** 'auto' (default): webgpu when `navigator.gpu` yields an adapter, else wasm. */
  device?: 'auto' | ExecutionDevice;
  /** wasm threads; default: 1 in Node, up to 4 in an isolated page. Read once, at the first session. */
  numThreads?: number;
  /** URL prefix of the locally served ort-wasm-*.wasm files (browser); never a CDN. */
  wasmPaths?: string;
  /** Outputs to leave on the GPU between runs (webgpu only), e.g. present.* for the KV cache. */
  gpuOutputs?: readonly string[];
  /** Name used in error messages, e.g. the .onnx file path. */
  fileName?: string;
}

export interface ExternalDataFile {
  path: string; // as written in the model, e.g. 'model.onnx_data'
  data: Uint8Array;
}

export interface OnnxSession {
  session: ort.InferenceSession;
  device: ExecutionDevice;
  /** The graph's structure as the reader saw it (inputs and outputs with their shapes). */
  summary: OnnxSummary;
}

let envConfigured = false;

function configureEnv(opts: OnnxSessionOptions): void {
  if (envConfigured) return;
  envConfigured = true;
  const isolated = !isNode && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const cores = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency ?? 1;
  ort.env.wasm.numThreads = opts.numThreads ?? (isolated ? Math.min(4, cores) : 1);
  if (opts.wasmPaths) ort.env.wasm.wasmPaths = opts.wasmPaths;
  ort.env.logLevel = 'error';
}

/** Checks the model's structure (clear 'bad_file' errors), then creates the session. */
export async function createOnnxSession(
  model: Uint8Array,
  externalData: readonly ExternalDataFile[] = [],
  opts: OnnxSessionOptions = {},
): Promise<OnnxSession> {
  const fileName = opts.fileName ?? 'model.onnx';
  const summary = inspectOnnx(model, fileName);
  for (const [location, needed] of summary.externalFiles) {
    const file = externalData.find((e) => e.path === location);
    if (!file) throw new ShrinkrayError('missing_file', `${fileName} keeps its weights in '${location}', which was not provided`);
    if (file.data.byteLength < needed) {
      throw new ShrinkrayError(
        'bad_file',
        `${location} holds ${file.data.byteLength} bytes; ${fileName} needs at least ${needed} (truncated?)`,
      );
    }
  }
  configureEnv(opts);
  const device = await pickDevice(opts.device);
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [device],
    graphOptimizationLevel: 'all',
    externalData: externalData.map((e) => ({ path: e.path, data: e.data })),
  };
  if (device === 'webgpu' && opts.gpuOutputs?.length) {
    sessionOptions.preferredOutputLocation = Object.fromEntries(opts.gpuOutputs.map((n) => [n, 'gpu-buffer' as const]));
  }
  try {
    return { session: await ort.InferenceSession.create(model, sessionOptions), device, summary };
  } catch (e) {
    const why = errorText(e);
    if (/bad_alloc|out of memory|Out of memory|Aborted\(OOM\)/.test(why)) {
      // Not the file's fault: wasm32 caps onnxruntime's heap at 4 GiB, and loading needs the
      // weights about twice.
      const mb = (model.byteLength + externalData.reduce((s, f) => s + f.data.byteLength, 0)) / 1e6;
      throw new ShrinkrayError(
        'runtime_error',
        `onnxruntime-web (${device}) ran out of memory loading ${fileName} (${mb.toFixed(0)} MB of model): ${why}`,
        { cause: e },
      );
    }
    throw new ShrinkrayError('bad_file', `onnxruntime-web (${device}) could not load ${fileName}: ${why}`, { cause: e });
  }
}

/** The first line of an onnxruntime error, without its stack. */
export function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.slice(0, 500);
}

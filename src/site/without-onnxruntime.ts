import { ShrinkrayError } from '../errors.ts';

/**
 * What `onnxruntime-web` resolves to in the exported demo site's runtime (vite.site.config.ts):
 * the site runs on the CPU engine, and onnxruntime-web (28 MB of wasm) would be most of its
 * download. The one path that reaches for it, a graph the CPU engine does not run, meets this
 * module and is refused with the engine's reason instead of downloading a runtime the site
 * does not carry. `env` exists because onnx-session.ts sets it before creating a session.
 */
const refuse = (): never => {
  throw new ShrinkrayError(
    'runtime_error',
    "this demo site carries only Shrinkray's CPU engine: onnxruntime-web, which this model's graph or the page's ?engine= asked for, was left out of the export (export-site --webgpu carries it)",
  );
};

export const env = { wasm: {} as Record<string, unknown>, webgpu: {} as Record<string, unknown>, logLevel: 'error' };

export const InferenceSession = { create: refuse };

export class Tensor {
  constructor() {
    refuse();
  }
}

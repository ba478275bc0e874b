import type { ModelConfig } from './config.ts';
import type { TensorHandle } from './ir.ts';
import { modelTensors } from './tensor-table.ts';

/**
 * Gemma's RMSNorm multiplies by (1 + w), not w (transformers' Gemma3RMSNorm, in fp32). Here the
 * 1 is added once, where a Hugging Face checkpoint enters (openHfModel and the store's reader):
 * in a ModelIR every norm weight is the multiplier, for every family, so the reference forward,
 * the calibration kernels (AWQ's folds into the norms included), the ONNX graph and the CPU
 * engine run one RMSNorm. GGUF's gemma3 tensors already hold 1 + w (llama.cpp's converter adds
 * it), the IR's convention. Writing an IR back as a Hugging Face folder takes the 1 away again.
 */

const folds = (c: Pick<ModelConfig, 'family'>) => c.family === 'gemma3_text';

/** The names of the norm weights a Gemma config holds (empty for every other family). */
function normNames(c: ModelConfig): Set<string> {
  return new Set(
    folds(c)
      ? modelTensors(c)
          .filter((t) => t.role === 'norm')
          .map((t) => t.name)
      : [],
  );
}

/** fp32 1 + w, as Gemma3RMSNorm computes (1.0 + self.weight.float()): one rounding, the same as transformers'. */
export function foldUnitOffset(w: Float32Array): Float32Array {
  return w.map((v) => 1 + v);
}

/** Replaces, in `tensors`, each norm weight of a Gemma config by a handle that reads 1 + w as fp32. */
export function foldGemmaNorms(c: ModelConfig, tensors: Map<string, TensorHandle>): void {
  for (const name of normNames(c)) {
    const h = tensors.get(name);
    if (!h) continue; // checkTensorsFitConfig names a missing tensor
    const n = h.shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { name, dtype: 'F32', shape: h.shape, byteLength: n * 4, read: async () => foldUnitOffset(await h.read()) });
  }
}

/** The values a Hugging Face folder stores for tensor `name` of an IR: w = multiplier - 1 for Gemma's norms, else as held. */
export function hfStoredValues(c: ModelConfig): (name: string, data: Float32Array) => Float32Array {
  const norms = normNames(c);
  return (name, data) => (norms.has(name) ? data.map((v) => v - 1) : data);
}

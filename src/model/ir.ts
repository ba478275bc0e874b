import type { ModelConfig } from './config.ts';

/** Element types a tensor may be stored as on disk. */
export type StoredDType = 'F32' | 'F16' | 'BF16' | 'I8' | 'U8' | 'I32' | 'I64';

/**
 * A tensor that is described but not yet read: the model is never held whole in memory.
 * `read()` decodes it to fp32 (fp16/bf16 are widened).
 */
export interface TensorHandle {
  readonly name: string; // Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight
  readonly dtype: StoredDType;
  readonly shape: readonly number[]; // row-major; linear weights are [out, in]
  readonly byteLength: number;
  read(): Promise<Float32Array>;
  /** Bytes [offset, offset + length) of the tensor as stored (little-endian elements, not decoded), where the source can give them. */
  readRange?(offset: number, length: number): Promise<Uint8Array>;
}

/** A model as the pipeline sees it: its config plus lazy handles to its tensors. */
export interface ModelIR {
  readonly config: ModelConfig;
  readonly tensors: ReadonlyMap<string, TensorHandle>;
}

/**
 * A linear weight `<name>` [N, K] stored as two factors W ≈ B A (lr recipes) is, in an IR,
 * two tensors in its place: `<name>.lowrank_a` = A [r, K] and `<name>.lowrank_b` = B [N, r]
 * (the ONNX graph names its two products' nodes the same way: `<name>.lowrank_a`, `<name>`).
 */
export const lowRankNames = (name: string) => ({ a: `${name}.lowrank_a`, b: `${name}.lowrank_b` });

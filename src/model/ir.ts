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
}

/** A model as the pipeline sees it: its config plus lazy handles to its tensors. */
export interface ModelIR {
  readonly config: ModelConfig;
  readonly tensors: ReadonlyMap<string, TensorHandle>;
}

/** Hugging Face tensor names for the Llama family; every importer and builder uses these. */
export const tensorNames = Object.freeze({
  embedding: 'model.embed_tokens.weight', // [vocab, dim]
  finalNorm: 'model.norm.weight', // [dim]
  classifier: 'lm_head.weight', // [vocab, dim], absent when tied
  layer: (i: number) =>
    Object.freeze({
      attnNorm: `model.layers.${i}.input_layernorm.weight`, // [dim]
      q: `model.layers.${i}.self_attn.q_proj.weight`, // [heads*headDim, dim]
      k: `model.layers.${i}.self_attn.k_proj.weight`, // [kvHeads*headDim, dim]
      v: `model.layers.${i}.self_attn.v_proj.weight`, // [kvHeads*headDim, dim]
      qBias: `model.layers.${i}.self_attn.q_proj.bias`, // [heads*headDim], Qwen2 only
      kBias: `model.layers.${i}.self_attn.k_proj.bias`, // [kvHeads*headDim]
      vBias: `model.layers.${i}.self_attn.v_proj.bias`, // [kvHeads*headDim]
      o: `model.layers.${i}.self_attn.o_proj.weight`, // [dim, heads*headDim]
      ffnNorm: `model.layers.${i}.post_attention_layernorm.weight`, // [dim]
      gate: `model.layers.${i}.mlp.gate_proj.weight`, // [ffn, dim]
      up: `model.layers.${i}.mlp.up_proj.weight`, // [ffn, dim]
      down: `model.layers.${i}.mlp.down_proj.weight`, // [dim, ffn]
    }),
});

import type { ArchitectureName, ModelFamily } from './config.ts';
import type { LayerTensorKey, ModelTensorKey } from './tensor-table.ts';

/**
 * The GGUF architectures Shrinkray imports (general.architecture), each as the Hugging Face
 * class whose folder a safetensors import writes. llama.cpp names every family's keys
 * `<arch>.<key>` and their tensors alike (llama.cpp's gguf-py constants.py, MODEL_TENSORS):
 * - llama: Llama 1/2/3.x, TinyLlama, SmolLM, Mistral-as-llama. The converter reorders q/k rows
 *   for interleaved RoPE (LlamaModel.permute; llama.cpp runs LLAMA_ROPE_TYPE_NORM), so they are
 *   reordered back for rotate-half. Llama 3.x files add rope_freqs.weight (gguf-rope-freqs.ts).
 * - qwen2: Qwen2, Qwen2.5: q/k/v biases. llama.cpp runs it with LLAMA_ROPE_TYPE_NEOX, which is
 *   Hugging Face's rotate-half, and the converter (Qwen2Model) copies the rows as they are.
 * - qwen3: Qwen3: per-head q/k RMSNorm (attn_q_norm, attn_k_norm), head size from
 *   attention.key_length; NEOX RoPE and rows as stored, like qwen2.
 * - gemma3: Gemma 3 text models (Gemma3Model in convert_hf_to_gguf.py): q/k norms, the norms
 *   after attention and after the MLP (post_attention_norm, post_ffw_norm; ffn_norm is Gemma's
 *   pre_feedforward_layernorm), NEOX RoPE and rows as stored; every norm already holds 1 + w
 *   (the converter adds norm_shift 1.0), which is the IR's convention (gemma-norms.ts), so
 *   nothing is folded here. What llama.cpp fixes in code rather than keys: gguf-gemma3.ts.
 * A tied classifier is the absence of output.weight (llama.cpp then classifies with token_embd).
 */
export interface GgufArchitecture {
  readonly architecture: ArchitectureName;
  readonly family: ModelFamily;
  /** The converter stored q/k rows for interleaved RoPE. */
  readonly interleavedQk: boolean;
  readonly attentionBias: boolean;
  readonly qkNorm: boolean;
  /** The file may carry rope_freqs.weight (Llama 3.x RoPE scaling). */
  readonly ropeFreqs: boolean;
}

export const GGUF_ARCHITECTURE_TABLE: Readonly<Record<string, GgufArchitecture>> = Object.freeze({
  llama: { architecture: 'LlamaForCausalLM', family: 'llama', interleavedQk: true, attentionBias: false, qkNorm: false, ropeFreqs: true },
  qwen2: { architecture: 'Qwen2ForCausalLM', family: 'qwen2', interleavedQk: false, attentionBias: true, qkNorm: false, ropeFreqs: false },
  qwen3: { architecture: 'Qwen3ForCausalLM', family: 'qwen3', interleavedQk: false, attentionBias: false, qkNorm: true, ropeFreqs: false },
  gemma3: {
    architecture: 'Gemma3ForCausalLM',
    family: 'gemma3_text',
    interleavedQk: false,
    attentionBias: false,
    qkNorm: true,
    ropeFreqs: false,
  },
});

export const GGUF_ARCHITECTURES: readonly string[] = Object.freeze(Object.keys(GGUF_ARCHITECTURE_TABLE));

/** GGUF tensor names by tensor-table key ('{i}' is the layer); Partial, so a new row of the table fails with its name, not silently. */
export const GGUF_TENSOR_NAMES: Partial<Record<LayerTensorKey | ModelTensorKey, string>> & Record<'embedding' | 'classifier', string> =
  Object.freeze({
    embedding: 'token_embd.weight',
    finalNorm: 'output_norm.weight',
    classifier: 'output.weight',
    attnNorm: 'blk.{i}.attn_norm.weight',
    q: 'blk.{i}.attn_q.weight',
    k: 'blk.{i}.attn_k.weight',
    v: 'blk.{i}.attn_v.weight',
    qBias: 'blk.{i}.attn_q.bias',
    kBias: 'blk.{i}.attn_k.bias',
    vBias: 'blk.{i}.attn_v.bias',
    qNorm: 'blk.{i}.attn_q_norm.weight',
    kNorm: 'blk.{i}.attn_k_norm.weight',
    o: 'blk.{i}.attn_output.weight',
    attnPostNorm: 'blk.{i}.post_attention_norm.weight',
    ffnNorm: 'blk.{i}.ffn_norm.weight',
    gate: 'blk.{i}.ffn_gate.weight',
    up: 'blk.{i}.ffn_up.weight',
    down: 'blk.{i}.ffn_down.weight',
    ffnPostNorm: 'blk.{i}.post_ffw_norm.weight',
  });

/**
 * The names of the decoder graph, agreed between the three parties that meet in it: the
 * builder writes them (src/build/), the CPU engine looks its nodes and initializers up by
 * them (src/engine/graph-*.ts), and onnxruntime-web's runner feeds and reads its inputs and
 * outputs (src/runtime/onnx-*.ts). Nothing else spells them: a name changed here changes on
 * every side at once, and a graph written with other names is refused by a message naming
 * the one that was looked for.
 *
 * Inputs and outputs follow the transformers.js convention, so its text-generation pipeline
 * runs our files as they are:
 *   input_ids, position_ids       int64 [batch, sequence]
 *   attention_mask                int64 [batch, total sequence]
 *   num_logits_to_keep            int64 []  (0: every position; 1: the last one)
 *   past_key_values.N.{key,value} float [batch, kvHeads, past, headDim]
 *   logits                        float [batch, kept positions, vocab]
 *   present.N.{key,value}         float [batch, kvHeads, total, headDim]
 */

/** Graph inputs, in the order the builder declares them (the KV cache follows, layer by layer). */
export const DECODER_INPUTS = Object.freeze({
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  positionIds: 'position_ids',
  logitsToKeep: 'num_logits_to_keep',
});

/** The inputs a decoder must have; num_logits_to_keep is ours, and optional in other graphs. */
export const REQUIRED_DECODER_INPUTS: readonly string[] = Object.freeze([
  DECODER_INPUTS.inputIds,
  DECODER_INPUTS.attentionMask,
  DECODER_INPUTS.positionIds,
]);

export const LOGITS_OUTPUT = 'logits';

export type KvPart = 'key' | 'value';
export const KV_PARTS: readonly KvPart[] = Object.freeze(['key', 'value']);

/** Layer `layer`'s cache as fed back in: past_key_values.N.key / .value. */
export const pastName = (layer: number, part: KvPart): string => `past_key_values.${layer}.${part}`;
/** Layer `layer`'s cache after the pass: present.N.key / .value. */
export const presentName = (layer: number, part: KvPart): string => `present.${layer}.${part}`;
/** Matches a past or present name; group 1 is the layer, group 2 the part. */
export const PAST_PATTERN = /^past_key_values\.(\d+)\.(key|value)$/;
export const PRESENT_PATTERN = /^present\.(\d+)\.(key|value)$/;

/**
 * Node names, as given to GraphBuilder (which writes `<name>_node`; see nodeName). Linear
 * layers are named after their weight tensor (src/model/tensor-table.ts), so the engine finds
 * `model.layers.0.self_attn.q_proj.weight_node`.
 */
export const DECODER_NODES = Object.freeze({
  embed: 'embed', // Gather or GatherBlockQuantized of the token table
  embedScaled: 'embed_scaled', // Gemma: the embeddings times sqrt(hidden_size) (INIT.embedScale)
  inputNorm: (l: number) => `layers.${l}.input_norm`,
  qNorm: (l: number) => `layers.${l}.q_norm`, // Qwen3's per-head norms
  kNorm: (l: number) => `layers.${l}.k_norm`,
  attention: (l: number) => `layers.${l}.attn`, // prefix of the plain attention's nodes
  softmax: (l: number) => `layers.${l}.attn.softmax`, // plain attention
  gqa: (l: number) => `layers.${l}.attn.gqa`, // com.microsoft.GroupQueryAttention
  qRope: (l: number) => `layers.${l}.q_rope`, // q and k turned before attention (gathered-rope.ts)
  kRope: (l: number) => `layers.${l}.k_rope`,
  attnResidual: (l: number) => `layers.${l}.attn_residual`,
  postAttentionNorm: (l: number) => `layers.${l}.post_attention_norm`, // the MLP input's norm (Llama's post_attention_layernorm)
  attnOutNorm: (l: number) => `layers.${l}.attn_out_norm`, // Gemma: the attention output's norm, before the residual add
  mlpOutNorm: (l: number) => `layers.${l}.mlp_out_norm`, // Gemma: the MLP output's norm, before the residual add
  silu: (l: number) => `layers.${l}.silu`,
  geluTanh: (l: number) => `layers.${l}.gelu_tanh`, // Gemma's GeGLU gate: GELU, tanh approximation
  mlpResidual: (l: number) => `layers.${l}.mlp_residual`,
  finalNorm: 'final_norm',
  keepLogits: 'keep_logits',
  tiedClassifier: 'lm_head', // Gemm or MatMulNBits reading the embedding table
  maskWindow: 'mask_window', // present only when the model slides an attention window
  maskBias: 'mask_bias',
  maskBiasLocal: 'mask_bias_local', // Gemma 3: the sliding layers' mask (with the window); mask_bias is then the full layers'
  /** The first product of a low-rank layer (x Aᵀ); the second carries the layer's own name. */
  lowRankFirst: (linear: string) => `${linear}.lowrank_a`,
});

/** Matches the name of any node of a decoder layer; group 1 is the layer (the engine counts layers by it). */
export const LAYER_NODE_PATTERN = /^layers\.(\d+)\./;

/** Initializers the engine reads by name to check them against config.json. */
export const DECODER_INITIALIZERS = Object.freeze({
  ropeCos: 'rope.cos', // [maxPos, headDim], plain attention
  ropeSin: 'rope.sin', // same, first half negated (rotate-half's sign)
  ropeCosCache: 'rope.cos_cache', // [maxPos, headDim/2], GroupQueryAttention's layout
  ropeSinCache: 'rope.sin_cache',
  ropeCosRows: 'rope.cos_rows', // [short + long rows, rotary/2], gathered before attention (LongRoPE, partial rotary; src/build/gathered-rope.ts)
  ropeSinRows: 'rope.sin_rows',
  ropeInvFreq: 'rope.inv_freq', // [headDim/2]: Gemma 3's RoPE computed in the graph (src/build/computed-rope.ts)
  ropeInvFreqLocal: 'rope.local.inv_freq', // same, its sliding layers' base (rope_local_base_freq)
  attnScale: 'attn_scale', // fp32 scalar 1/sqrt(headDim) (Gemma: query_pre_attn_scalar^-0.5)
  embedScale: 'embed_scale', // fp32 scalar, Gemma's sqrt(hidden_size)
  rmsEps: 'rms_eps', // fp32 scalar, plain RMSNorm's epsilon
});

/** Initializers named after a weight tensor `name`. */
export const weightInitializer = Object.freeze({
  fp16: (name: string) => `${name}_fp16`, // fp16 storage, widened by a Cast named `name`
  transposed: (name: string) => `${name}.T`, // a dense linear weight as Wᵀ [in, out]
  qweight: (name: string) => `${name}.qweight`, // MatMulNBits codes
  scales: (name: string) => `${name}.scales`,
  zeroPoints: (name: string) => `${name}.zero_points`,
  bias: (name: string) => `${name}.bias`,
});

/** The tensor an fp16-stored initializer holds (inverse of weightInitializer.fp16). */
export const unFp16 = (initializer: string): string => initializer.replace(/_fp16$/, '');

export { nodeName } from './graph-builder.ts';

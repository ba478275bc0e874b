import type { ModelConfig } from './config.ts';

/**
 * The one table of what a Llama-family model holds: every tensor's Hugging Face name, role,
 * shape as a function of the config, and whether a quantization step may touch it. The
 * loaders' checks, the reference forward pass, the planner, structured pruning and the ONNX
 * builder all read it; a new architecture (Qwen2 biases, Phi, Gemma) is a new row here plus
 * what the builder emits for it.
 */

export type TensorRole =
  | 'embedding' // token embedding [vocab, dim] (also the classifier when tied)
  | 'classifier' // lm_head [vocab, dim], only when not tied
  | 'norm' // RMSNorm weight [dim] ([headDim] for Qwen3's per-head q/k norms)
  | 'linear' // a decoder-block projection [out, in]: q, k, v, o, gate, up, down
  | 'bias'; // q/k/v bias [out] (Qwen2)

export type LinearKind = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
/** The decoder block's projections in the order they run (attention, then the MLP): the columns of the page's width grid and error chart. */
export const LINEAR_KINDS: readonly LinearKind[] = Object.freeze(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
export type LayerTensorKey =
  'attnNorm' | LinearKind | 'qBias' | 'kBias' | 'vBias' | 'qNorm' | 'kNorm' | 'attnPostNorm' | 'ffnNorm' | 'ffnPostNorm';
export type ModelTensorKey = 'embedding' | 'finalNorm' | 'classifier';

interface TensorSpec<K extends string> {
  key: K;
  name: string; // Hugging Face name; '{i}' stands for the decoder layer
  /** Gemma's name for the same role, where it differs (its post_attention_layernorm norms the attention output, not the MLP input). */
  gemmaName?: string;
  role: TensorRole;
  shape(c: ModelConfig): number[]; // [out, in] for matrices, [n] for vectors
  /** The shape in config.json's words, for errors: one entry per dimension. */
  dims: readonly string[];
  /** Quantization steps may touch it: `int` the linear layers, `emb` the embedding and classifier. Norms and biases stay fp32. */
  quantizable: boolean;
  /** Whether a model with this config has the tensor (default: always). */
  present?(c: ModelConfig): boolean;
}

const qDim = (c: ModelConfig) => c.numHeads * c.headDim;
const kvDim = (c: ModelConfig) => c.numKvHeads * c.headDim;
const withBias = (c: ModelConfig) => c.attentionBias;
const withQkNorm = (c: ModelConfig) => c.qkNorm === true;
const withSandwichNorms = (c: ModelConfig) => c.sandwichNorms === true;
const specName = (spec: { name: string; gemmaName?: string }, c: Pick<ModelConfig, 'family'> | undefined) =>
  c?.family === 'gemma3_text' && spec.gemmaName ? spec.gemmaName : spec.name;

/** A decoder layer's tensors, in file order. */
const LAYER_TENSORS: readonly TensorSpec<LayerTensorKey>[] = Object.freeze([
  {
    key: 'attnNorm',
    name: 'model.layers.{i}.input_layernorm.weight',
    role: 'norm',
    quantizable: false,
    shape: (c) => [c.hiddenSize],
    dims: ['hidden_size'],
  },
  {
    key: 'q',
    name: 'model.layers.{i}.self_attn.q_proj.weight',
    role: 'linear',
    quantizable: true,
    shape: (c) => [qDim(c), c.hiddenSize],
    dims: ['num_attention_heads × head_dim', 'hidden_size'],
  },
  {
    key: 'k',
    name: 'model.layers.{i}.self_attn.k_proj.weight',
    role: 'linear',
    quantizable: true,
    shape: (c) => [kvDim(c), c.hiddenSize],
    dims: ['num_key_value_heads × head_dim', 'hidden_size'],
  },
  {
    key: 'v',
    name: 'model.layers.{i}.self_attn.v_proj.weight',
    role: 'linear',
    quantizable: true,
    shape: (c) => [kvDim(c), c.hiddenSize],
    dims: ['num_key_value_heads × head_dim', 'hidden_size'],
  },
  {
    key: 'qBias',
    name: 'model.layers.{i}.self_attn.q_proj.bias',
    role: 'bias',
    quantizable: false,
    shape: (c) => [qDim(c)],
    dims: ['num_attention_heads × head_dim'],
    present: withBias,
  },
  {
    key: 'kBias',
    name: 'model.layers.{i}.self_attn.k_proj.bias',
    role: 'bias',
    quantizable: false,
    shape: (c) => [kvDim(c)],
    dims: ['num_key_value_heads × head_dim'],
    present: withBias,
  },
  {
    key: 'vBias',
    name: 'model.layers.{i}.self_attn.v_proj.bias',
    role: 'bias',
    quantizable: false,
    shape: (c) => [kvDim(c)],
    dims: ['num_key_value_heads × head_dim'],
    present: withBias,
  },
  {
    key: 'qNorm',
    name: 'model.layers.{i}.self_attn.q_norm.weight',
    role: 'norm',
    quantizable: false,
    shape: (c) => [c.headDim],
    dims: ['head_dim'],
    present: withQkNorm,
  },
  {
    key: 'kNorm',
    name: 'model.layers.{i}.self_attn.k_norm.weight',
    role: 'norm',
    quantizable: false,
    shape: (c) => [c.headDim],
    dims: ['head_dim'],
    present: withQkNorm,
  },
  {
    key: 'o',
    name: 'model.layers.{i}.self_attn.o_proj.weight',
    role: 'linear',
    quantizable: true,
    shape: (c) => [c.hiddenSize, qDim(c)],
    dims: ['hidden_size', 'num_attention_heads × head_dim'],
  },
  {
    key: 'attnPostNorm',
    name: 'model.layers.{i}.post_attention_layernorm.weight', // Gemma's: the attention output's norm, before the residual add
    role: 'norm',
    quantizable: false,
    shape: (c) => [c.hiddenSize],
    dims: ['hidden_size'],
    present: withSandwichNorms,
  },
  {
    key: 'ffnNorm',
    name: 'model.layers.{i}.post_attention_layernorm.weight', // Llama's: the MLP input's norm
    gemmaName: 'model.layers.{i}.pre_feedforward_layernorm.weight',
    role: 'norm',
    quantizable: false,
    shape: (c) => [c.hiddenSize],
    dims: ['hidden_size'],
  },
  {
    key: 'gate',
    name: 'model.layers.{i}.mlp.gate_proj.weight',
    role: 'linear',
    quantizable: true,
    shape: (c) => [c.intermediateSize, c.hiddenSize],
    dims: ['intermediate_size', 'hidden_size'],
  },
  {
    key: 'up',
    name: 'model.layers.{i}.mlp.up_proj.weight',
    role: 'linear',
    quantizable: true,
    shape: (c) => [c.intermediateSize, c.hiddenSize],
    dims: ['intermediate_size', 'hidden_size'],
  },
  {
    key: 'down',
    name: 'model.layers.{i}.mlp.down_proj.weight',
    role: 'linear',
    quantizable: true,
    shape: (c) => [c.hiddenSize, c.intermediateSize],
    dims: ['hidden_size', 'intermediate_size'],
  },
  {
    key: 'ffnPostNorm',
    name: 'model.layers.{i}.post_feedforward_layernorm.weight', // Gemma: the MLP output's norm, before the residual add
    role: 'norm',
    quantizable: false,
    shape: (c) => [c.hiddenSize],
    dims: ['hidden_size'],
    present: withSandwichNorms,
  },
]);

/** Model-level tensors; the embedding comes before the layers in file order, the rest after. */
const MODEL_TENSORS: readonly TensorSpec<ModelTensorKey>[] = Object.freeze([
  {
    key: 'embedding',
    name: 'model.embed_tokens.weight',
    role: 'embedding',
    quantizable: true,
    shape: (c) => [c.vocabSize, c.hiddenSize],
    dims: ['vocab_size', 'hidden_size'],
  },
  { key: 'finalNorm', name: 'model.norm.weight', role: 'norm', quantizable: false, shape: (c) => [c.hiddenSize], dims: ['hidden_size'] },
  {
    key: 'classifier',
    name: 'lm_head.weight',
    role: 'classifier',
    quantizable: true,
    shape: (c) => [c.vocabSize, c.hiddenSize],
    dims: ['vocab_size', 'hidden_size'],
    present: (c) => !c.tieWordEmbeddings,
  },
]);

/** One tensor of a model with a given config. */
export interface TensorEntry {
  key: LayerTensorKey | ModelTensorKey;
  name: string;
  role: TensorRole;
  layer: number | null; // decoder layer, null for model-level tensors
  linear: LinearKind | null; // which projection, for role 'linear'
  shape: readonly number[];
  dims: readonly string[]; // the shape in config.json's words
  quantizable: boolean;
}

const layerName = (template: string, i: number) => template.replace('{i}', String(i));

function entry<K extends LayerTensorKey | ModelTensorKey>(spec: TensorSpec<K>, c: ModelConfig, layer: number | null): TensorEntry {
  return {
    key: spec.key,
    name: layer === null ? spec.name : layerName(specName(spec, c), layer),
    role: spec.role,
    layer,
    linear: spec.role === 'linear' ? (spec.key as LinearKind) : null,
    shape: Object.freeze(spec.shape(c)),
    dims: spec.dims,
    quantizable: spec.quantizable,
  };
}

/** The tensors of decoder layer `i`, shaped by `config`, in file order. */
export function layerTensors(config: ModelConfig, i: number): TensorEntry[] {
  return LAYER_TENSORS.filter((s) => s.present?.(config) ?? true).map((s) => entry(s, config, i));
}

type OptionalLayerKey = 'qBias' | 'kBias' | 'vBias' | 'qNorm' | 'kNorm' | 'attnPostNorm' | 'ffnPostNorm'; // the rows with a `present` predicate

/** A decoder layer's tensors by key; the biases and q/k norms are absent when the config has none. */
export type LayerTensorMap = Record<Exclude<LayerTensorKey, OptionalLayerKey>, TensorEntry> &
  Partial<Record<OptionalLayerKey, TensorEntry>>;

/** The tensors of decoder layer `i` by key. */
export function layerTensorMap(config: ModelConfig, i: number): LayerTensorMap {
  return Object.fromEntries(layerTensors(config, i).map((t) => [t.key, t])) as LayerTensorMap;
}

/** A model-level tensor, shaped by `config` (whether or not this config has it). */
export function modelTensor(config: ModelConfig, key: ModelTensorKey): TensorEntry {
  return entry(
    MODEL_TENSORS.find((s) => s.key === key)!,
    config,
    null,
  );
}

/** Every tensor a model with `config` holds, shaped by it, in file order. */
export function modelTensors(config: ModelConfig): TensorEntry[] {
  const [embedding, ...tail] = MODEL_TENSORS.filter((s) => s.present?.(config) ?? true);
  const list = [entry(embedding!, config, null)];
  for (let i = 0; i < config.numLayers; i++) list.push(...layerTensors(config, i));
  list.push(...tail.map((s) => entry(s, config, null)));
  return list;
}

/**
 * Checkpoints that store several projections as one matrix (Phi-3: qkv_proj, gate_up_proj):
 * each fused tensor is its parts' rows stacked in this order, so every part is a contiguous
 * run of rows. The importer splits them into the rows above (src/model/fused-tensors.ts),
 * without a copy, and everything downstream sees Llama's separate projections: the kernels
 * (the builder's MatMulNBits per projection, the engine's grouped q/k/v and gate/up GEMMs,
 * the quantizers' per-tensor groups) all take them separate.
 */
export interface FusedTensorSpec {
  name: string; // Hugging Face name; '{i}' stands for the decoder layer
  parts: readonly LinearKind[]; // stacked along the rows, in this order
  dims: readonly string[]; // the fused shape in config.json's words
  present(c: ModelConfig): boolean;
}

const isPhi3 = (c: ModelConfig) => c.family === 'phi3';

export const FUSED_TENSORS: readonly FusedTensorSpec[] = Object.freeze([
  {
    name: 'model.layers.{i}.self_attn.qkv_proj.weight',
    parts: ['q', 'k', 'v'],
    dims: ['(num_attention_heads + 2 × num_key_value_heads) × head_dim', 'hidden_size'],
    present: isPhi3,
  },
  {
    name: 'model.layers.{i}.mlp.gate_up_proj.weight',
    parts: ['gate', 'up'],
    dims: ['2 × intermediate_size', 'hidden_size'],
    present: isPhi3,
  },
]);

/** The fused tensors of decoder layer `i` for `config`, each with its parts (their entries in the table above) in row order. */
export function fusedLayerTensors(config: ModelConfig, i: number): { name: string; dims: readonly string[]; parts: TensorEntry[] }[] {
  const fused = FUSED_TENSORS.filter((f) => f.present(config));
  if (fused.length === 0) return [];
  const byKey = layerTensorMap(config, i);
  return fused.map((f) => ({
    name: layerName(f.name, i),
    dims: f.dims,
    parts: f.parts.map((k) => byKey[k]),
  }));
}

/** Hugging Face names of the model-level tensors and of each layer's tensors, by key (Gemma's where `c` is a Gemma config). */
export const tensorNames = Object.freeze({
  embedding: MODEL_TENSORS[0]!.name,
  finalNorm: MODEL_TENSORS[1]!.name,
  classifier: MODEL_TENSORS[2]!.name,
  layer: (i: number, c?: Pick<ModelConfig, 'family'>): Readonly<Record<LayerTensorKey, string>> =>
    Object.freeze(Object.fromEntries(LAYER_TENSORS.map((s) => [s.key, layerName(specName(s, c), i)])) as Record<LayerTensorKey, string>),
});

/** A tensor name taken apart: where the tensor sits and which row of the table it is. */
export interface TensorNameParts {
  layer: number | null; // the decoder layer of 'model.layers.<layer>.…', null for a model-level name
  key: LayerTensorKey | ModelTensorKey | null; // its row in the table; null for a name no row has (rotary_emb.inv_freq, a fused qkv_proj)
  linear: LinearKind | null; // which projection, for the linear rows
}

const LAYER_PREFIX = 'model.layers.{i}.';
// '<i>' of 'model.layers.<i>.' as written; more than 9 digits is no layer index.
const LAYER_NAME = /^model\.layers\.(\d{1,9})\.(.*)$/s;
// Llama's names; Gemma's (where they differ) in a map of their own, since post_attention_layernorm is another row there.
// Without a config, Gemma's pre_feedforward_layernorm is known too (its post_attention_layernorm reads as Llama's): a Llama
// config over Gemma weights is caught, and the page can place the tensor.
const LAYER_KEY_BY_REST = new Map([
  ...LAYER_TENSORS.filter((s) => s.gemmaName).map((s) => [s.gemmaName!.slice(LAYER_PREFIX.length), s.key] as const),
  ...LAYER_TENSORS.filter((s) => s.key !== 'attnPostNorm').map((s) => [s.name.slice(LAYER_PREFIX.length), s.key] as const),
]);
const GEMMA_KEY_BY_REST = new Map([
  ...LAYER_KEY_BY_REST,
  ...LAYER_TENSORS.filter((s) => s.key === 'attnPostNorm' || s.gemmaName).map(
    (s) => [specName(s, { family: 'gemma3_text' }).slice(LAYER_PREFIX.length), s.key] as const,
  ),
]);
const MODEL_KEY_BY_NAME = new Map(MODEL_TENSORS.map((s) => [s.name, s.key]));

/**
 * The one place a tensor name is taken apart. A name under 'model.layers.<i>.' belongs to
 * layer i whether or not the table knows the rest (a checkpoint's extra tensors are still
 * placed, so a layer beyond the config's count is caught); it has a key only when it is
 * exactly the name the table gives that row ('model.layers.03.…' is not layer 3's).
 */
export function parseTensorName(name: string, c?: Pick<ModelConfig, 'family'>): TensorNameParts {
  const m = LAYER_NAME.exec(name);
  if (!m) {
    const key = MODEL_KEY_BY_NAME.get(name) ?? null;
    return { layer: null, key, linear: null };
  }
  const layer = Number(m[1]);
  const byRest = c?.family === 'gemma3_text' ? GEMMA_KEY_BY_REST : LAYER_KEY_BY_REST;
  const key = m[1] === String(layer) ? (byRest.get(m[2]!) ?? null) : null;
  return { layer, key, linear: key !== null && (LINEAR_KINDS as readonly string[]).includes(key) ? (key as LinearKind) : null };
}

/** A decoder-layer tensor's name moved to layer `to` (block removal renumbers the kept blocks); a model-level name stays as it is. */
export function renameToLayer(name: string, to: number): string {
  const m = LAYER_NAME.exec(name);
  return m ? layerName(`${LAYER_PREFIX}${m[2]}`, to) : name;
}

/** Number of elements of a shape. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

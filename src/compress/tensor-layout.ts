import type { ModelConfig } from '../model/config.ts';
import { tensorNames } from '../model/ir.ts';

/**
 * Every tensor a Llama-family model holds, with its role and shape as the config implies,
 * in file order. The recipe validator and the planner walk this list; it never touches
 * weights, so it runs before any download or work starts.
 */

export type TensorRole =
  | 'embedding' // token embedding [vocab, dim] (also the classifier when tied)
  | 'classifier' // lm_head [vocab, dim], only when not tied
  | 'norm' // RMSNorm weight [dim]
  | 'linear' // a decoder-block projection [out, in]: q, k, v, o, gate, up, down
  | 'bias'; // q/k/v bias [out] (Qwen2)

export type LinearKind = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';

export interface TensorEntry {
  name: string; // Hugging Face name (tensorNames)
  role: TensorRole;
  layer: number | null; // decoder layer, null for model-level tensors
  linear: LinearKind | null; // which projection, for role 'linear'
  shape: readonly number[]; // [out, in] for matrices, [n] for vectors
}

/** The tensors of decoder layer `i`, shaped by `config`. */
export function layerTensors(config: ModelConfig, i: number): TensorEntry[] {
  const { hiddenSize: dim, intermediateSize: ffn, numHeads, numKvHeads, headDim } = config;
  const n = tensorNames.layer(i);
  const qDim = numHeads * headDim, kvDim = numKvHeads * headDim;
  const lin = (name: string, linear: LinearKind, out: number, inp: number): TensorEntry =>
    ({ name, role: 'linear', layer: i, linear, shape: [out, inp] });
  const vec = (name: string, role: TensorRole, size: number): TensorEntry => ({ name, role, layer: i, linear: null, shape: [size] });
  const list: TensorEntry[] = [
    vec(n.attnNorm, 'norm', dim),
    lin(n.q, 'q', qDim, dim),
    lin(n.k, 'k', kvDim, dim),
    lin(n.v, 'v', kvDim, dim),
  ];
  if (config.attentionBias) list.push(vec(n.qBias, 'bias', qDim), vec(n.kBias, 'bias', kvDim), vec(n.vBias, 'bias', kvDim));
  list.push(
    lin(n.o, 'o', dim, qDim),
    vec(n.ffnNorm, 'norm', dim),
    lin(n.gate, 'gate', ffn, dim),
    lin(n.up, 'up', ffn, dim),
    lin(n.down, 'down', dim, ffn),
  );
  return list;
}

/** All tensors of the model, shaped by `config`, in file order. */
export function modelTensors(config: ModelConfig): TensorEntry[] {
  const list: TensorEntry[] = [
    { name: tensorNames.embedding, role: 'embedding', layer: null, linear: null, shape: [config.vocabSize, config.hiddenSize] },
  ];
  for (let i = 0; i < config.numLayers; i++) list.push(...layerTensors(config, i));
  list.push({ name: tensorNames.finalNorm, role: 'norm', layer: null, linear: null, shape: [config.hiddenSize] });
  if (!config.tieWordEmbeddings) {
    list.push({ name: tensorNames.classifier, role: 'classifier', layer: null, linear: null, shape: [config.vocabSize, config.hiddenSize] });
  }
  return list;
}

/** Number of elements of a shape. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

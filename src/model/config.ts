/**
 * The typed model configuration every part of the pipeline reads. It is parsed from a
 * Hugging Face config.json (src/model/hf-config.ts) or built from a llama2.c header.
 */
export const SUPPORTED_ARCHITECTURES = Object.freeze({
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
} as const);

export type ArchitectureName = keyof typeof SUPPORTED_ARCHITECTURES;
export type ModelFamily = (typeof SUPPORTED_ARCHITECTURES)[ArchitectureName];

export interface ModelConfig {
  architecture: ArchitectureName; // as written in config.json "architectures"[0]
  family: ModelFamily;
  hiddenSize: number; // dim
  intermediateSize: number; // FFN hidden size
  numLayers: number;
  numHeads: number;
  numKvHeads: number; // < numHeads means grouped-query attention
  headDim: number; // usually hiddenSize / numHeads
  vocabSize: number;
  maxPositionEmbeddings: number; // context length
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean; // classifier shares the token embedding
  attentionBias: boolean; // q/k/v projections carry a bias (Qwen2)
  bosTokenId: number | null;
  eosTokenId: number[]; // one or more stop ids
}

import type { ModelConfig } from '../src/model/config.ts';

/** stories260K's config as the importer parses it (the fixture README's figures), for tests that plan recipes without loading the model. */
export const STORIES_CONFIG: ModelConfig = Object.freeze({
  architecture: 'LlamaForCausalLM',
  family: 'llama',
  hiddenSize: 64,
  intermediateSize: 172,
  numLayers: 5,
  numHeads: 8,
  numKvHeads: 4,
  headDim: 8,
  vocabSize: 512,
  maxPositionEmbeddings: 512,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  tieWordEmbeddings: true,
  attentionBias: false,
  bosTokenId: 1,
  eosTokenId: [2],
});

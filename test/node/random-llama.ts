// Deterministic tiny Llama-family models with random weights, built in memory, for
// checking the forward pass against an independent implementation. Never for quality.
import type { ModelConfig } from '../../src/model/config.ts';
import type { ModelIR, TensorHandle } from '../../src/model/ir.ts';
import { tensorNames } from '../../src/model/tensor-table.ts';

export const tinyConfig = (overrides: Partial<ModelConfig> = {}): ModelConfig => ({
  architecture: 'Qwen2ForCausalLM',
  family: 'qwen2',
  hiddenSize: 24,
  intermediateSize: 40,
  numLayers: 2,
  numHeads: 6,
  numKvHeads: 2, // grouped-query attention, 3 query heads per KV head
  headDim: 4,
  vocabSize: 37,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-6,
  ropeTheta: 100, // small theta: every pair rotates visibly within a few positions
  tieWordEmbeddings: false,
  attentionBias: true,
  bosTokenId: 1,
  eosTokenId: [2],
  ...overrides,
});

/** xorshift32 -> roughly normal values (sum of uniforms), scaled. */
function randomArray(seed: number, size: number, scale: number, offset = 0): Float32Array {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return Float32Array.from({ length: size }, () => offset + scale * (uniform() + uniform() + uniform() - 1.5) * 2);
}

function handle(name: string, shape: number[], data: Float32Array): TensorHandle {
  return { name, dtype: 'F32', shape, byteLength: data.byteLength, read: async () => Float32Array.from(data) };
}

/** A model whose every tensor is seeded from `seed` and the tensor's position in the list. */
export function randomLlamaIR(config: ModelConfig, seed = 1): ModelIR {
  const c = config;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const tensors = new Map<string, TensorHandle>();
  let n = 0;
  const add = (name: string, shape: number[], scale: number, offset = 0) => {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, handle(name, shape, randomArray(seed * 7919 + ++n, size, scale, offset)));
  };
  add(tensorNames.embedding, [c.vocabSize, c.hiddenSize], 1);
  for (let l = 0; l < c.numLayers; l++) {
    const t = tensorNames.layer(l);
    add(t.attnNorm, [c.hiddenSize], 0.2, 1);
    add(t.q, [qDim, c.hiddenSize], 0.4);
    add(t.k, [kvDim, c.hiddenSize], 0.4);
    add(t.v, [kvDim, c.hiddenSize], 0.4);
    if (c.attentionBias) {
      add(t.qBias, [qDim], 0.5);
      add(t.kBias, [kvDim], 0.5);
      add(t.vBias, [kvDim], 0.5);
    }
    add(t.o, [c.hiddenSize, qDim], 0.3);
    add(t.ffnNorm, [c.hiddenSize], 0.2, 1);
    add(t.gate, [c.intermediateSize, c.hiddenSize], 0.4);
    add(t.up, [c.intermediateSize, c.hiddenSize], 0.4);
    add(t.down, [c.hiddenSize, c.intermediateSize], 0.3);
  }
  add(tensorNames.finalNorm, [c.hiddenSize], 0.2, 1);
  if (!c.tieWordEmbeddings) add(tensorNames.classifier, [c.vocabSize, c.hiddenSize], 0.5);
  return { config: c, tensors };
}

/** Deterministic token ids in [0, vocab). */
export function tokenSequence(length: number, vocab: number, seed = 3): number[] {
  return Array.from({ length }, (_, i) => (i * 7 + seed * 13 + ((i * i) % 11)) % vocab);
}

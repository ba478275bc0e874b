import { checkModelConfig, type ModelConfig } from './config.ts';
import type { ModelIR, TensorHandle } from './ir.ts';
import { modelTensors } from './tensor-table.ts';

/**
 * Deterministic random models with the shapes of real ones, for speed and memory
 * measurements and for builder tests. Random weights say nothing about quality.
 * Tensors are generated on read (from a per-tensor seed), so a 0.5B model costs no
 * memory until the builder asks for each weight.
 */
export const SYNTHETIC_SHAPES = Object.freeze({
  'smollm2-135m': {
    hiddenSize: 576,
    numLayers: 30,
    numHeads: 9,
    numKvHeads: 3,
    intermediateSize: 1536,
    vocabSize: 49152,
    attentionBias: false,
    tie: true,
    maxPos: 8192,
  },
  'qwen2.5-0.5b': {
    hiddenSize: 896,
    numLayers: 24,
    numHeads: 14,
    numKvHeads: 2,
    intermediateSize: 4864,
    vocabSize: 151936,
    attentionBias: true,
    tie: true,
    maxPos: 32768,
  },
  // google/gemma-3-270m-it: head_dim 256 (not hidden / heads), 5 sliding layers (window 512, RoPE base 1e4) then a full one (1e6), GeGLU.
  'gemma3-270m': {
    hiddenSize: 640,
    numLayers: 18,
    numHeads: 4,
    numKvHeads: 1,
    intermediateSize: 2048,
    vocabSize: 262144,
    attentionBias: false,
    tie: true,
    maxPos: 32768,
    gemma: { headDim: 256, slidingWindow: 512, pattern: 6 },
  },
} as const);

export type SyntheticShape = keyof typeof SYNTHETIC_SHAPES;

export function syntheticConfig(shape: SyntheticShape, overrides: Partial<ModelConfig> = {}): ModelConfig {
  const s = SYNTHETIC_SHAPES[shape];
  if ('gemma' in s)
    return checkModelConfig({ ...gemmaConfig(s, overrides.numLayers ?? s.numLayers), ...overrides }, `synthetic ${shape} config`);
  return checkModelConfig(
    {
      architecture: s.attentionBias ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM',
      family: s.attentionBias ? 'qwen2' : 'llama',
      hiddenSize: s.hiddenSize,
      intermediateSize: s.intermediateSize,
      numLayers: s.numLayers,
      numHeads: s.numHeads,
      numKvHeads: s.numKvHeads,
      headDim: s.hiddenSize / s.numHeads,
      vocabSize: s.vocabSize,
      maxPositionEmbeddings: s.maxPos,
      rmsNormEps: 1e-6,
      ropeTheta: 10000,
      tieWordEmbeddings: s.tie,
      attentionBias: s.attentionBias,
      bosTokenId: 1,
      eosTokenId: [2],
      ...overrides,
    },
    `synthetic ${shape} config`,
  );
}

/** Gemma 3's fields as Gemma3TextConfig gives them for the published 270M (hf-gemma-config.ts reads the same from config.json). */
function gemmaConfig(s: (typeof SYNTHETIC_SHAPES)['gemma3-270m'], numLayers: number): ModelConfig {
  const layers = Array.from({ length: numLayers }, (_, l) => l);
  return {
    architecture: 'Gemma3ForCausalLM',
    family: 'gemma3_text',
    hiddenSize: s.hiddenSize,
    intermediateSize: s.intermediateSize,
    numLayers,
    numHeads: s.numHeads,
    numKvHeads: s.numKvHeads,
    headDim: s.gemma.headDim,
    vocabSize: s.vocabSize,
    maxPositionEmbeddings: s.maxPos,
    rmsNormEps: 1e-6,
    ropeTheta: 1e6,
    tieWordEmbeddings: s.tie,
    attentionBias: false,
    qkNorm: true,
    slidingWindow: s.gemma.slidingWindow,
    bosTokenId: 2,
    eosTokenId: [1],
    hiddenAct: 'gelu_tanh',
    embeddingScale: Math.sqrt(s.hiddenSize),
    sandwichNorms: true,
    queryPreAttnScalar: s.gemma.headDim,
    slidingLayers: layers.filter((l) => (l + 1) % s.gemma.pattern !== 0),
    ropeLocalTheta: 1e4,
  };
}

/** xorshift32 in [-0.5, 0.5). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32 - 0.5;
  };
}

function hashName(name: string, seed: number): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Linear weights ~ U(-a, a) with a = 1/sqrt(in) (activations keep their scale through
 * the layers), norms near 1, biases small.
 */
export function syntheticIR(config: ModelConfig, seed = 1): ModelIR {
  const tensors = new Map<string, TensorHandle>();
  const add = (name: string, shape: number[], kind: 'linear' | 'norm' | 'bias' | 'embed') => {
    const n = shape.reduce((a, b) => a * b, 1);
    const read = async (): Promise<Float32Array> => {
      const r = random(hashName(name, seed));
      const a = kind === 'linear' ? 2 / Math.sqrt(shape[1]!) : kind === 'embed' ? 2 : 0.2;
      const base = kind === 'norm' ? 1 : 0;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = base + a * r();
      return out;
    };
    tensors.set(name, { name, dtype: 'F32', shape, byteLength: n * 4, read });
  };
  for (const t of modelTensors(config)) {
    const kind = t.role === 'embedding' ? 'embed' : t.role === 'classifier' ? 'linear' : t.role;
    add(t.name, [...t.shape], kind);
  }
  return { config, tensors };
}

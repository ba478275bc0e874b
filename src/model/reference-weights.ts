import { ShrinkrayError } from '../errors.ts';
import type { ModelConfig } from './config.ts';
import { tensorNames, type ModelIR, type TensorHandle } from './ir.ts';

/** The fp32 weights of one decoder layer. Linear weights are [out, in]. */
export interface LayerWeights {
  attnNorm: Float32Array; // [dim]
  q: Float32Array; // [heads*headDim, dim]
  k: Float32Array; // [kvHeads*headDim, dim]
  v: Float32Array; // [kvHeads*headDim, dim]
  qBias: Float32Array | null; // [heads*headDim]
  kBias: Float32Array | null; // [kvHeads*headDim]
  vBias: Float32Array | null; // [kvHeads*headDim]
  o: Float32Array; // [dim, heads*headDim]
  ffnNorm: Float32Array; // [dim]
  gate: Float32Array; // [ffn, dim]
  up: Float32Array; // [ffn, dim]
  down: Float32Array; // [dim, ffn]
}

/** Every tensor the reference forward pass reads, decoded to fp32. */
export interface ReferenceWeights {
  embedding: Float32Array; // [vocab, dim]
  layers: LayerWeights[];
  finalNorm: Float32Array; // [dim]
  classifier: Float32Array; // [vocab, dim]; the embedding itself when tied
}

/** Checks the config's sizes before anything is allocated from them. */
export function validateConfig(c: ModelConfig): void {
  const positive: (keyof ModelConfig)[] = [
    'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize',
    'maxPositionEmbeddings',
  ];
  for (const field of positive) {
    const value = c[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new ShrinkrayError('bad_config', `config field '${field}' must be a positive integer, got ${String(value)}`);
    }
  }
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new ShrinkrayError('bad_config', `numHeads (${c.numHeads}) must be a multiple of numKvHeads (${c.numKvHeads})`);
  }
  if (c.headDim % 2 !== 0) {
    throw new ShrinkrayError('bad_config', `headDim must be even for rotary embeddings, got ${c.headDim}`);
  }
  if (!(c.rmsNormEps > 0) || !(c.ropeTheta > 0)) {
    throw new ShrinkrayError('bad_config', `rmsNormEps and ropeTheta must be positive, got ${c.rmsNormEps} and ${c.ropeTheta}`);
  }
}

/** Reads the named tensor after checking that its shape is the expected one. */
async function readTensor(ir: ModelIR, name: string, shape: readonly number[]): Promise<Float32Array> {
  const handle = ir.tensors.get(name);
  if (!handle) throw new ShrinkrayError('bad_file', `tensor '${name}' is missing; expected shape [${shape.join(', ')}]`);
  return readHandle(handle, shape);
}

async function readHandle(handle: TensorHandle, shape: readonly number[]): Promise<Float32Array> {
  const same = handle.shape.length === shape.length && handle.shape.every((d, i) => d === shape[i]);
  if (!same) {
    throw new ShrinkrayError(
      'bad_file',
      `tensor '${handle.name}' has shape [${handle.shape.join(', ')}]; expected [${shape.join(', ')}]`,
    );
  }
  const data = await handle.read();
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new ShrinkrayError('bad_file', `tensor '${handle.name}' decoded to ${data.length} values; expected ${expected}`);
  }
  return data;
}

/** A bias is read when present; Qwen2-style configs (attentionBias) require it. */
async function readBias(ir: ModelIR, name: string, size: number): Promise<Float32Array | null> {
  if (!ir.tensors.has(name) && !ir.config.attentionBias) return null;
  return readTensor(ir, name, [size]);
}

/** Loads every weight of a Llama-family model, one tensor at a time. */
export async function loadReferenceWeights(ir: ModelIR): Promise<ReferenceWeights> {
  const c = ir.config;
  validateConfig(c);
  const dim = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const ffn = c.intermediateSize;

  const embedding = await readTensor(ir, tensorNames.embedding, [c.vocabSize, dim]);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const n = tensorNames.layer(i);
    layers.push({
      attnNorm: await readTensor(ir, n.attnNorm, [dim]),
      q: await readTensor(ir, n.q, [qDim, dim]),
      k: await readTensor(ir, n.k, [kvDim, dim]),
      v: await readTensor(ir, n.v, [kvDim, dim]),
      qBias: await readBias(ir, n.qBias, qDim),
      kBias: await readBias(ir, n.kBias, kvDim),
      vBias: await readBias(ir, n.vBias, kvDim),
      o: await readTensor(ir, n.o, [dim, qDim]),
      ffnNorm: await readTensor(ir, n.ffnNorm, [dim]),
      gate: await readTensor(ir, n.gate, [ffn, dim]),
      up: await readTensor(ir, n.up, [ffn, dim]),
      down: await readTensor(ir, n.down, [dim, ffn]),
    });
  }
  const finalNorm = await readTensor(ir, tensorNames.finalNorm, [dim]);
  // An explicit lm_head wins; without one, the classifier must be tied to the embedding.
  let classifier: Float32Array;
  if (ir.tensors.has(tensorNames.classifier)) {
    classifier = await readTensor(ir, tensorNames.classifier, [c.vocabSize, dim]);
  } else if (c.tieWordEmbeddings) {
    classifier = embedding;
  } else {
    throw new ShrinkrayError(
      'bad_file',
      `tensor '${tensorNames.classifier}' is missing and tie_word_embeddings is false; expected shape [${c.vocabSize}, ${dim}]`,
    );
  }
  return { embedding, layers, finalNorm, classifier };
}

import { ShrinkrayError } from '../errors.ts';
import { lowRankNames, type ModelIR, type TensorHandle } from './ir.ts';
import { layerTensors, modelTensor, type LayerTensorKey, type LinearKind } from './tensor-table.ts';

/** The fp32 weights of one decoder layer, keyed as the tensor table keys them. Linear weights are [out, in]. */
export interface LayerWeights {
  attnNorm: Float32Array; // [dim]
  q: Float32Array; // [heads*headDim, dim]
  k: Float32Array; // [kvHeads*headDim, dim]
  v: Float32Array; // [kvHeads*headDim, dim]
  qBias: Float32Array | null; // [heads*headDim]
  kBias: Float32Array | null; // [kvHeads*headDim]
  vBias: Float32Array | null; // [kvHeads*headDim]
  qNorm: Float32Array | null; // [headDim], shared by every query head (Qwen3)
  kNorm: Float32Array | null; // [headDim], shared by every key head (Qwen3)
  o: Float32Array; // [dim, heads*headDim]
  ffnNorm: Float32Array; // [dim]
  gate: Float32Array; // [ffn, dim]
  up: Float32Array; // [ffn, dim]
  down: Float32Array; // [dim, ffn]
  /** Linears stored as two factors (lr recipes; ir.ts lowRankNames): their dense field above is then empty. */
  factors?: Partial<Record<LinearKind, LowRankFactorsF32>>;
}

/** W ≈ B A: x Wᵀ = (x Aᵀ) Bᵀ. */
export interface LowRankFactorsF32 {
  rank: number;
  a: Float32Array; // [rank, in]
  b: Float32Array; // [out, rank]
}

/** Every tensor the reference forward pass reads, decoded to fp32. */
export interface ReferenceWeights {
  embedding: Float32Array; // [vocab, dim]
  layers: LayerWeights[];
  finalNorm: Float32Array; // [dim]
  classifier: Float32Array; // [vocab, dim]; the embedding itself when tied
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
    throw new ShrinkrayError('bad_file', `tensor '${handle.name}' has shape [${handle.shape.join(', ')}]; expected [${shape.join(', ')}]`);
  }
  const data = await handle.read();
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new ShrinkrayError('bad_file', `tensor '${handle.name}' decoded to ${data.length} values; expected ${expected}`);
  }
  return data;
}

/** Loads every weight of a Llama-family model, one tensor at a time, as the tensor table lists them. */
export async function loadReferenceWeights(ir: ModelIR): Promise<ReferenceWeights> {
  const c = ir.config;
  const embeddingEntry = modelTensor(c, 'embedding');
  const embedding = await readTensor(ir, embeddingEntry.name, embeddingEntry.shape);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const w: Partial<Record<LayerTensorKey, Float32Array>> = {};
    const factors: Partial<Record<LinearKind, LowRankFactorsF32>> = {};
    for (const t of layerTensors(c, i)) {
      const pair = t.linear && !ir.tensors.has(t.name) ? lowRankNames(t.name) : null;
      if (t.linear && pair && ir.tensors.has(pair.a)) {
        const [N, K] = t.shape as [number, number];
        const rank = ir.tensors.get(pair.a)!.shape[0] ?? 0;
        factors[t.linear] = { rank, a: await readTensor(ir, pair.a, [rank, K]), b: await readTensor(ir, pair.b, [N, rank]) };
        w[t.key as LayerTensorKey] = new Float32Array(0);
      } else w[t.key as LayerTensorKey] = await readTensor(ir, t.name, t.shape);
    }
    // biases, q/k norms only where the config has them
    layers.push({
      qBias: null,
      kBias: null,
      vBias: null,
      qNorm: null,
      kNorm: null,
      ...w,
      ...(Object.keys(factors).length ? { factors } : {}),
    } as LayerWeights);
  }
  const finalNorm = modelTensor(c, 'finalNorm');
  const classifierEntry = modelTensor(c, 'classifier');
  // An explicit lm_head wins; without one, the classifier must be tied to the embedding.
  let classifier: Float32Array;
  if (ir.tensors.has(classifierEntry.name)) {
    classifier = await readTensor(ir, classifierEntry.name, classifierEntry.shape);
  } else if (c.tieWordEmbeddings) {
    classifier = embedding;
  } else {
    throw new ShrinkrayError(
      'bad_file',
      `tensor '${classifierEntry.name}' is missing and tie_word_embeddings is false; expected shape [${classifierEntry.shape.join(', ')}]`,
    );
  }
  return { embedding, layers, finalNorm: await readTensor(ir, finalNorm.name, finalNorm.shape), classifier };
}

import { ShrinkrayError } from '../errors.ts';
import { lowRankNames, type ModelIR, type TensorHandle } from './ir.ts';
import { readHalfMatrix, widenMatrix, type StoredMatrix } from './reference-half.ts';
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
  attnPostNorm: Float32Array | null; // [dim], Gemma's norm of the attention output
  ffnNorm: Float32Array; // [dim]
  ffnPostNorm: Float32Array | null; // [dim], Gemma's norm of the MLP output
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

type MatrixKey = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
const MATRIX_KEYS: readonly MatrixKey[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

/** One decoder layer as held: its matrices fp32, or a 16-bit checkpoint's bytes (reference-half.ts); norms and biases fp32. */
export type StoredLayer = Omit<LayerWeights, MatrixKey> & Record<MatrixKey, StoredMatrix>;

/**
 * Every tensor the reference forward pass reads: fp32, except the matrices of a 16-bit
 * checkpoint, which stay 16-bit and are widened a layer (or a block of classifier rows) at a time.
 */
export interface ReferenceWeights {
  embedding: StoredMatrix; // [vocab, dim]
  layers: StoredLayer[];
  finalNorm: Float32Array; // [dim]
  classifier: StoredMatrix; // [vocab, dim]; the embedding itself when tied
}

/** A layer with fp32 matrices: the arrays themselves for an fp32 model, fresh copies (this layer's only) for a 16-bit one. */
export function widenLayer(layer: StoredLayer): LayerWeights {
  const out = { ...layer } as unknown as LayerWeights;
  for (const key of MATRIX_KEYS) out[key] = widenMatrix(layer[key]);
  return out;
}

/** Reads the named tensor after checking that its shape is the expected one. */
async function readTensor(ir: ModelIR, name: string, shape: readonly number[]): Promise<Float32Array> {
  const handle = ir.tensors.get(name);
  if (!handle) throw new ShrinkrayError('bad_file', `tensor '${name}' is missing; expected shape [${shape.join(', ')}]`);
  return readHandle(handle, shape);
}

/** A matrix [rows, cols]: kept as stored when it is 16-bit (reference-half.ts), else read as fp32. */
async function readMatrix(ir: ModelIR, name: string, shape: readonly number[]): Promise<StoredMatrix> {
  const handle = ir.tensors.get(name);
  if (!handle) throw new ShrinkrayError('bad_file', `tensor '${name}' is missing; expected shape [${shape.join(', ')}]`);
  checkShape(handle, shape);
  return (await readHalfMatrix(handle, shape[1]!)) ?? readHandle(handle, shape);
}

function checkShape(handle: TensorHandle, shape: readonly number[]): void {
  const same = handle.shape.length === shape.length && handle.shape.every((d, i) => d === shape[i]);
  if (!same) {
    throw new ShrinkrayError('bad_file', `tensor '${handle.name}' has shape [${handle.shape.join(', ')}]; expected [${shape.join(', ')}]`);
  }
}

async function readHandle(handle: TensorHandle, shape: readonly number[]): Promise<Float32Array> {
  checkShape(handle, shape);
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
  const embedding = await readMatrix(ir, embeddingEntry.name, embeddingEntry.shape);
  const layers: StoredLayer[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const w: Partial<Record<LayerTensorKey, StoredMatrix>> = {};
    const factors: Partial<Record<LinearKind, LowRankFactorsF32>> = {};
    for (const t of layerTensors(c, i)) {
      const pair = t.linear && !ir.tensors.has(t.name) ? lowRankNames(t.name) : null;
      if (t.linear && pair && ir.tensors.has(pair.a)) {
        const [N, K] = t.shape as [number, number];
        const rank = ir.tensors.get(pair.a)!.shape[0] ?? 0;
        factors[t.linear] = { rank, a: await readTensor(ir, pair.a, [rank, K]), b: await readTensor(ir, pair.b, [N, rank]) };
        w[t.key as LayerTensorKey] = new Float32Array(0);
      } else {
        w[t.key as LayerTensorKey] = t.shape.length === 2 ? await readMatrix(ir, t.name, t.shape) : await readTensor(ir, t.name, t.shape);
      }
    }
    // biases, q/k norms only where the config has them
    layers.push({
      qBias: null,
      kBias: null,
      vBias: null,
      qNorm: null,
      kNorm: null,
      attnPostNorm: null,
      ffnPostNorm: null,
      ...w,
      ...(Object.keys(factors).length ? { factors } : {}),
    } as StoredLayer);
  }
  const finalNorm = modelTensor(c, 'finalNorm');
  const classifierEntry = modelTensor(c, 'classifier');
  // An explicit lm_head wins; without one, the classifier must be tied to the embedding.
  let classifier: StoredMatrix;
  if (ir.tensors.has(classifierEntry.name)) {
    classifier = await readMatrix(ir, classifierEntry.name, classifierEntry.shape);
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

import { ShrinkrayError } from '../errors.ts';
import type { ModelIR, TensorHandle } from '../model/ir.ts';
import { layerTensorMap, modelTensor, type TensorEntry } from '../model/tensor-table.ts';
import { isHalfSource, placeHalfTensor, type HalfConversion } from './half-tensor.ts';
import type { EngineHeap } from './heap.ts';
import type { EngineLayer, EngineModelWeights } from './model-weights.ts';
import type { EngineWeight } from './weight-layout.ts';

/**
 * The weights of an imported (not yet compressed) model, read tensor by tensor through its
 * handles into the heap: the "before" side of a comparison runs on the same engine. Matrices
 * (linear weights, the embedding, the classifier) stored in 16 bits (bf16 or fp16, as models
 * are published) are kept as fp16 rows [out, in] (half-tensor.ts), so a 1B model fits the
 * 4 GB wasm memory; fp32 sources stay f32, and so do the small vectors (norms, biases).
 * One source tensor is read at a time.
 */
export interface IrWeightsInfo {
  /** 'f16' when any matrix was kept in 16 bits, from these source dtypes. */
  matrices: 'f32' | 'f16';
  from: string[]; // source dtypes of the matrices, e.g. ['BF16']
  conversion: HalfConversion;
}

function handleOf(ir: ModelIR, t: TensorEntry): TensorHandle {
  const h = ir.tensors.get(t.name);
  if (!h) throw new ShrinkrayError('bad_file', `the model has no tensor '${t.name}' (expected shape [${t.shape.join(', ')}])`);
  if (h.shape.length !== t.shape.length || h.shape.some((d, i) => d !== t.shape[i])) {
    throw new ShrinkrayError(
      'bad_file',
      `tensor '${t.name}' has shape [${h.shape.join(', ')}], but config.json implies [${t.shape.join(', ')}]`,
    );
  }
  return h;
}

async function tensorF32(heap: EngineHeap, ir: ModelIR, t: TensorEntry): Promise<number> {
  const h = handleOf(ir, t);
  const data = await h.read();
  const at = heap.alloc(data.length * 4, t.name);
  heap.f32.set(data, at >>> 2);
  return at;
}

/** A matrix: fp16 when stored in 16 bits, else f32. */
async function matrix(heap: EngineHeap, ir: ModelIR, t: TensorEntry, info: IrWeightsInfo): Promise<{ data: number; dtype: 'f32' | 'f16' }> {
  const h = handleOf(ir, t);
  if (!info.from.includes(h.dtype)) info.from.push(h.dtype);
  if (!isHalfSource(h)) return { data: await tensorF32(heap, ir, t), dtype: 'f32' };
  info.matrices = 'f16';
  return {
    data: await placeHalfTensor(
      heap,
      h,
      t.shape.reduce((a, b) => a * b, 1),
      info.conversion,
    ),
    dtype: 'f16',
  };
}

async function linear(heap: EngineHeap, ir: ModelIR, info: IrWeightsInfo, t: TensorEntry, biasEntry?: TensorEntry): Promise<EngineWeight> {
  const [N, K] = t.shape as [number, number];
  const { data, dtype } = await matrix(heap, ir, t, info);
  const bias = biasEntry ? await tensorF32(heap, ir, biasEntry) : 0;
  return { kind: 'dense', name: t.name, N, K, dtype, layout: 'nk', data, bias };
}

export async function irWeights(heap: EngineHeap, ir: ModelIR, info = newIrWeightsInfo()): Promise<EngineModelWeights> {
  const c = ir.config;
  const emb = modelTensor(c, 'embedding');
  const table = await matrix(heap, ir, emb, info);
  const layers: EngineLayer[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const t = layerTensorMap(c, l);
    layers.push({
      attnNorm: await tensorF32(heap, ir, t.attnNorm),
      qNorm: t.qNorm ? await tensorF32(heap, ir, t.qNorm) : 0,
      kNorm: t.kNorm ? await tensorF32(heap, ir, t.kNorm) : 0,
      q: await linear(heap, ir, info, t.q, t.qBias),
      k: await linear(heap, ir, info, t.k, t.kBias),
      v: await linear(heap, ir, info, t.v, t.vBias),
      o: await linear(heap, ir, info, t.o),
      ffnNorm: await tensorF32(heap, ir, t.ffnNorm),
      attnPostNorm: t.attnPostNorm ? await tensorF32(heap, ir, t.attnPostNorm) : 0,
      ffnPostNorm: t.ffnPostNorm ? await tensorF32(heap, ir, t.ffnPostNorm) : 0,
      gate: await linear(heap, ir, info, t.gate),
      up: await linear(heap, ir, info, t.up),
      down: await linear(heap, ir, info, t.down),
    });
  }
  const finalNorm = await tensorF32(heap, ir, modelTensor(c, 'finalNorm'));
  const head = modelTensor(c, 'classifier');
  const [vocab, dim] = emb.shape as [number, number];
  // A tied config whose file still holds lm_head.weight uses it, as the builder does.
  const classifier: EngineWeight =
    !c.tieWordEmbeddings || ir.tensors.has(head.name)
      ? await linear(heap, ir, info, head)
      : { kind: 'dense', name: 'lm_head (tied)', N: vocab, K: dim, dtype: table.dtype, layout: 'nk', data: table.data, bias: 0 };
  return { embedding: { kind: 'dense', dtype: table.dtype, data: table.data }, layers, finalNorm, classifier };
}

export function newIrWeightsInfo(): IrWeightsInfo {
  return { matrices: 'f32', from: [], conversion: { flushed: 0, lossy: 0 } };
}

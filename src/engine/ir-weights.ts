import { ShrinkrayError } from '../errors.ts';
import type { ModelIR } from '../model/ir.ts';
import { layerTensorMap, modelTensor, type TensorEntry } from '../model/tensor-table.ts';
import type { EngineHeap } from './heap.ts';
import type { EngineLayer, EngineModelWeights } from './model-weights.ts';
import type { EngineWeight } from './weight-layout.ts';

/**
 * The weights of an imported (not yet compressed) model, read tensor by tensor through its
 * handles into the heap as f32 rows [out, in]: the "before" side of a comparison runs on the
 * same engine. One source tensor is decoded at a time.
 */
async function tensorF32(heap: EngineHeap, ir: ModelIR, t: TensorEntry): Promise<number> {
  const h = ir.tensors.get(t.name);
  if (!h) throw new ShrinkrayError('bad_file', `the model has no tensor '${t.name}' (expected shape [${t.shape.join(', ')}])`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (h.shape.length !== t.shape.length || h.shape.some((d, i) => d !== t.shape[i])) {
    throw new ShrinkrayError(
      'bad_file',
      `tensor '${t.name}' has shape [${h.shape.join(', ')}], but config.json implies [${t.shape.join(', ')}]`,
    );
  }
  const data = await h.read();
  const at = heap.alloc(n * 4, t.name);
  heap.f32.set(data, at >> 2);
  return at;
}

async function linear(heap: EngineHeap, ir: ModelIR, t: TensorEntry, biasEntry?: TensorEntry): Promise<EngineWeight> {
  const [N, K] = t.shape as [number, number];
  const data = await tensorF32(heap, ir, t);
  const bias = biasEntry ? await tensorF32(heap, ir, biasEntry) : 0;
  return { kind: 'dense', name: t.name, N, K, dtype: 'f32', layout: 'nk', data, bias };
}

export async function irWeights(heap: EngineHeap, ir: ModelIR): Promise<EngineModelWeights> {
  const c = ir.config;
  const emb = modelTensor(c, 'embedding');
  const table = await tensorF32(heap, ir, emb);
  const layers: EngineLayer[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const t = layerTensorMap(c, l);
    layers.push({
      attnNorm: await tensorF32(heap, ir, t.attnNorm),
      qNorm: t.qNorm ? await tensorF32(heap, ir, t.qNorm) : 0,
      kNorm: t.kNorm ? await tensorF32(heap, ir, t.kNorm) : 0,
      q: await linear(heap, ir, t.q, t.qBias),
      k: await linear(heap, ir, t.k, t.kBias),
      v: await linear(heap, ir, t.v, t.vBias),
      o: await linear(heap, ir, t.o),
      ffnNorm: await tensorF32(heap, ir, t.ffnNorm),
      gate: await linear(heap, ir, t.gate),
      up: await linear(heap, ir, t.up),
      down: await linear(heap, ir, t.down),
    });
  }
  const finalNorm = await tensorF32(heap, ir, modelTensor(c, 'finalNorm'));
  const head = modelTensor(c, 'classifier');
  const [vocab, dim] = emb.shape as [number, number];
  // A tied config whose file still holds lm_head.weight uses it, as the builder does.
  const classifier: EngineWeight =
    !c.tieWordEmbeddings || ir.tensors.has(head.name)
      ? await linear(heap, ir, head)
      : { kind: 'dense', name: 'lm_head (tied)', N: vocab, K: dim, dtype: 'f32', layout: 'nk', data: table, bias: 0 };
  return { embedding: { kind: 'dense', dtype: 'f32', data: table }, layers, finalNorm, classifier };
}

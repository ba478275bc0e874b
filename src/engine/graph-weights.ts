import { DECODER_NODES as NODES, nodeName, unFp16 } from '../formats/onnx/decoder-names.ts';
import type { ModelConfig } from '../model/config.ts';
import { layerTensorMap, modelTensor, type TensorEntry } from '../model/tensor-table.ts';
import type { OnnxNodeView } from '../formats/onnx/onnx-graph.ts';
import { checkGraph } from './graph-check.ts';
import { bad, expectShape, FLOAT, GraphIndex, intAttr, Unsupported, UINT8, type GraphBytes } from './graph-index.ts';
import type { EngineHeap } from './heap.ts';
import { vectorF32, type EmbeddingTable, type EngineLayer, type EngineLinear, type EngineModelWeights } from './model-weights.ts';
import type { EngineWeight } from './weight-layout.ts';

/**
 * The weights of the decoder graph our builder writes (src/build/), mapped onto the tensor
 * table (src/model/tensor-table.ts): for each tensor the node that uses it, its stored form
 * (MatMul on an fp32 or Cast-from-fp16 W^T, MatMulNBits, Gather or GatherBlockQuantized, the
 * tied Gemm or MatMulNBits classifier) and where its bytes lie in the heap. A tensor whose
 * shape disagrees with config.json is a 'bad_file' error naming it; a form the engine does
 * not run is Unsupported (graph-index.ts), and the caller falls back to onnxruntime-web.
 */
export { Unsupported, type GraphBytes };

/** A MatMulNBits node's weight: its initializers, checked against [N, K] from the table. */
function nbitsWeight(ix: GraphIndex, n: OnnxNodeView, name: string, N: number, K: number, bias: number): EngineWeight {
  const g = ix.g.name;
  const bits = intAttr(n, 'bits') ?? 4;
  const blockSize = intAttr(n, 'block_size') ?? 0;
  if (intAttr(n, 'N') !== N || intAttr(n, 'K') !== K) {
    throw bad(g, `'${name}' is a MatMulNBits of N=${intAttr(n, 'N')}, K=${intAttr(n, 'K')}, but config.json implies N=${N}, K=${K}`);
  }
  if (bits !== 2 && bits !== 4 && bits !== 8)
    throw new Unsupported(`${g}: '${name}' has ${bits}-bit codes; the CPU engine runs 2, 4 and 8 bits`);
  if (!(blockSize >= 16 && (blockSize & (blockSize - 1)) === 0)) throw new Unsupported(`${g}: '${name}' has block size ${blockSize}`);
  const blocks = Math.ceil(K / blockSize);
  const [codesName, scalesName, zpName] = n.inputs.slice(1);
  const codes = ix.initializer(codesName ?? '');
  const scales = ix.initializer(scalesName ?? '');
  if (!codes || codes.dataType !== UINT8) throw new Unsupported(`${g}: '${name}' codes '${codesName}' are not a uint8 initializer`);
  if (!scales || scales.dataType !== FLOAT) throw new Unsupported(`${g}: '${name}' scales '${scalesName}' are not an fp32 initializer`);
  expectShape(g, codes, [N, blocks, (blockSize * bits) / 8]);
  expectShape(g, scales, [N * blocks]);
  let zeroPoints = 0;
  if (zpName) {
    const zp = ix.initializer(zpName);
    if (!zp || zp.dataType !== UINT8) throw new Unsupported(`${g}: '${name}' zero points '${zpName}' are not a uint8 initializer`);
    expectShape(g, zp, [N * Math.ceil((blocks * bits) / 8)]);
    zeroPoints = ix.address(zp, 1);
  }
  return { kind: 'nbits', name, N, K, bits, blockSize, codes: ix.address(codes, 1), scales: ix.address(scales, 4), zeroPoints, bias };
}

/**
 * The weight of linear layer `t` (the node the builder named after it), with its bias when
 * `biasEntry` is given. A low-rank layer (lr recipes) is two products: the node named after
 * the layer multiplies by B [N, r] the output of node `<name>.lowrank_a` (x Aᵀ, A [r, K]).
 */
function linearWeight(heap: EngineHeap, ix: GraphIndex, t: TensorEntry, biasEntry?: TensorEntry): EngineLinear {
  const [N, K] = t.shape as [number, number];
  const n = ix.node(t.name, ['MatMul', 'MatMulNBits']);
  const firstName = NODES.lowRankFirst(t.name);
  const first = ix.producer.get(n.inputs[0] ?? '');
  if (first?.name !== nodeName(firstName)) return productWeight(heap, ix, n, t.name, N, K, biasEntry);
  if (first.opType !== 'MatMul' && first.opType !== 'MatMulNBits') {
    throw new Unsupported(`${ix.g.name}: node '${first.name}' is ${first.opType}, expected MatMul or MatMulNBits`);
  }
  // A dense factor's Aᵀ [K, r] is an initializer, or (fp16) the Cast of one.
  const at = first.inputs[1] ?? '';
  const stored = ix.initializer(at) ?? ix.initializer(ix.producer.get(at)?.inputs[0] ?? '');
  const rank = first.opType === 'MatMulNBits' ? (intAttr(first, 'N') ?? 0) : (stored?.dims[1] ?? 0);
  if (!(rank >= 1 && rank <= Math.min(N, K))) throw bad(ix.g.name, `low-rank layer '${t.name}' [${N}, ${K}] has rank ${rank}`);
  const a = productWeight(heap, ix, first, firstName, rank, K);
  return { kind: 'lowrank', name: t.name, N, K, rank, a, b: productWeight(heap, ix, n, t.name, N, rank, biasEntry) };
}

/** One MatMul or MatMulNBits node `n` multiplying by a weight [N, K] (plus the bias Add after it, when `biasEntry` is given). */
function productWeight(
  heap: EngineHeap,
  ix: GraphIndex,
  n: OnnxNodeView,
  name: string,
  N: number,
  K: number,
  biasEntry?: TensorEntry,
): EngineWeight {
  let bias = 0;
  const add = (ix.consumers.get(n.outputs[0] ?? '') ?? []).find((c) => c.opType === 'Add' && c.inputs.some((i) => ix.initializer(i)));
  if (biasEntry) {
    if (!add) throw bad(ix.g.name, `config.json gives '${name}' a bias, but the graph adds none to it`);
    const value = add.inputs.find((i) => ix.initializer(i))!;
    bias = vectorF32(heap, ix.heapTensor(value, 'bias', [N]));
  } else if (add) {
    throw bad(ix.g.name, `the graph adds a bias to '${name}', but config.json has none (attention_bias)`);
  }
  if (n.opType === 'MatMulNBits') {
    if (n.domain !== 'com.microsoft') throw new Unsupported(`${ix.g.name}: node '${n.name}' is MatMulNBits outside com.microsoft`);
    return nbitsWeight(ix, n, name, N, K, bias);
  }
  const w = ix.heapTensor(n.inputs[1] ?? '', `the weight of '${name}'`, [K, N]); // W^T
  return { kind: 'dense', name: name, N, K, dtype: w.dtype, layout: 'kn', data: w.at, bias };
}

function embeddingTable(ix: GraphIndex, c: ModelConfig): { table: EmbeddingTable; node: OnnxNodeView } {
  const e = modelTensor(c, 'embedding');
  const [vocab, dim] = e.shape as [number, number];
  const n = ix.node(NODES.embed, ['Gather', 'GatherBlockQuantized']);
  if (n.opType === 'Gather') {
    const t = ix.heapTensor(n.inputs[0] ?? '', 'the embedding table', [vocab, dim]);
    return { table: { kind: 'dense', dtype: t.dtype, data: t.at }, node: n };
  }
  // GatherBlockQuantized reads the MatMulNBits bytes through Reshapes: find the initializers behind them.
  const behind = (value: string) => {
    const r = ix.producer.get(value);
    return r?.opType === 'Reshape' ? (r.inputs[0] ?? '') : value;
  };
  if (intAttr(n, 'gather_axis') !== 0 || intAttr(n, 'quantize_axis') !== 1) {
    throw new Unsupported(`${ix.g.name}: GatherBlockQuantized '${n.name}' must gather axis 0 and quantize axis 1`);
  }
  const blockSize = intAttr(n, 'block_size') ?? 128;
  const bits = intAttr(n, 'bits') ?? 4;
  const mm = {
    ...n,
    inputs: [n.inputs[1] ?? '', behind(n.inputs[0] ?? ''), behind(n.inputs[2] ?? ''), ...(n.inputs[3] ? [behind(n.inputs[3])] : [])],
  };
  const attrs = new Map(n.attributes);
  attrs.set('N', { kind: 'int', value: vocab });
  attrs.set('K', { kind: 'int', value: dim });
  const w = nbitsWeight(ix, { ...mm, attributes: attrs }, e.name, vocab, dim, 0);
  if (w.kind !== 'nbits') throw new Unsupported('unreachable');
  const table: EmbeddingTable = {
    kind: 'nbits',
    bits: w.bits,
    blockSize: w.blockSize,
    codes: w.codes,
    scales: w.scales,
    zeroPoints: w.zeroPoints,
    zpRow: Math.ceil((Math.ceil(dim / blockSize) * bits) / 8),
  };
  return { table, node: n };
}

/** The classifier: an untied lm_head linear, or the tied table through Gemm (dense) or MatMulNBits. */
function classifierWeight(
  heap: EngineHeap,
  ix: GraphIndex,
  c: ModelConfig,
  emb: { table: EmbeddingTable; node: OnnxNodeView },
): EngineWeight {
  const head = modelTensor(c, 'classifier');
  if (ix.find(head.name)) {
    const [vocab, dim] = head.shape as [number, number];
    return productWeight(heap, ix, ix.node(head.name, ['MatMul', 'MatMulNBits']), head.name, vocab, dim);
  }
  // A tied graph under an untied config disagrees with it; a graph with neither classifier has other names.
  if (!c.tieWordEmbeddings && ix.find(NODES.tiedClassifier))
    throw bad(ix.g.name, `config.json unties the classifier, but the graph has no '${head.name}' node`);
  if (!c.tieWordEmbeddings) ix.node(head.name, ['MatMul', 'MatMulNBits']);
  const [vocab, dim] = head.shape as [number, number];
  const n = ix.node(NODES.tiedClassifier, ['Gemm', 'MatMulNBits']);
  if (emb.table.kind === 'dense') {
    if (n.opType !== 'Gemm' || intAttr(n, 'transB') !== 1 || n.inputs[1] !== emb.node.inputs[0]) {
      throw new Unsupported(`${ix.g.name}: the tied classifier '${n.name}' does not read the embedding table`);
    }
    return { kind: 'dense', name: 'lm_head (tied)', N: vocab, K: dim, dtype: emb.table.dtype, layout: 'nk', data: emb.table.data, bias: 0 };
  }
  if (n.opType !== 'MatMulNBits') throw new Unsupported(`${ix.g.name}: the tied classifier of a quantized embedding must be MatMulNBits`);
  const w = nbitsWeight(ix, n, 'lm_head (tied)', vocab, dim, 0);
  if (w.kind !== 'nbits' || w.codes !== emb.table.codes)
    throw new Unsupported(`${ix.g.name}: '${n.name}' does not share the embedding's codes`);
  return w;
}

/** Reads every weight of the decoder in `g`; see the file comment for what is an error and what a fallback. */
export function graphWeights(heap: EngineHeap, g: GraphBytes, c: ModelConfig): EngineModelWeights {
  const ix = new GraphIndex(g);
  checkGraph(ix, c);
  const norm = (entry: TensorEntry, node: string) => {
    const n = ix.node(node, ['Mul', 'SimplifiedLayerNormalization']);
    const value = n.inputs[1] ?? '';
    if (unFp16(ix.floatTensor(value, 'a norm weight').tensor.name) !== entry.name) {
      throw new Unsupported(`${g.name}: node '${n.name}' does not read '${entry.name}'`);
    }
    return vectorF32(heap, ix.heapTensor(value, 'a norm weight', entry.shape));
  };
  const emb = embeddingTable(ix, c);
  const layers: EngineLayer[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const t = layerTensorMap(c, l);
    layers.push({
      attnNorm: norm(t.attnNorm, NODES.inputNorm(l)),
      qNorm: t.qNorm ? norm(t.qNorm, NODES.qNorm(l)) : 0,
      kNorm: t.kNorm ? norm(t.kNorm, NODES.kNorm(l)) : 0,
      q: linearWeight(heap, ix, t.q, t.qBias),
      k: linearWeight(heap, ix, t.k, t.kBias),
      v: linearWeight(heap, ix, t.v, t.vBias),
      o: linearWeight(heap, ix, t.o),
      ffnNorm: norm(t.ffnNorm, NODES.postAttentionNorm(l)),
      attnPostNorm: t.attnPostNorm ? norm(t.attnPostNorm, NODES.attnOutNorm(l)) : 0,
      ffnPostNorm: t.ffnPostNorm ? norm(t.ffnPostNorm, NODES.mlpOutNorm(l)) : 0,
      gate: linearWeight(heap, ix, t.gate),
      up: linearWeight(heap, ix, t.up),
      down: linearWeight(heap, ix, t.down),
    });
  }
  const finalNorm = norm(modelTensor(c, 'finalNorm'), NODES.finalNorm);
  return { embedding: emb.table, layers, finalNorm, classifier: classifierWeight(heap, ix, c, emb) };
}

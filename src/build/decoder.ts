import { ShrinkrayError } from '../errors.ts';
import { GraphBuilder, type BuiltModel } from '../formats/onnx/graph-builder.ts';
import {
  DECODER_INITIALIZERS,
  DECODER_INPUTS,
  DECODER_NODES as N,
  LOGITS_OUTPUT,
  pastName,
  presentName,
} from '../formats/onnx/decoder-names.ts';
import { attr, OnnxDataType } from '../formats/onnx/onnx-proto.ts';
import { plainAttention } from './attention.ts';
import { gqaAttention } from './gqa-attention.ts';
import { emitGatheredRope, usesGatheredRope } from './gathered-rope.ts';
import { emitComputedRope, usesComputedRope } from './computed-rope.ts';
import { emitEmbedding } from './embedding.ts';
import { emitLinear, linearWeightBytes, weightValue } from './linear.ts';
import { denseHook, type LinearHook, type LinearWeight } from './linear-weight.ts';
import type { QuantizedMatMul } from './quant-paths.ts';
import { layerHasRope } from '../model/config.ts';
import type { ModelIR } from '../model/ir.ts';
import { layerTensorMap, modelTensor, type TensorEntry } from '../model/tensor-table.ts';

/**
 * ModelIR -> ONNX decoder with KV cache, in the transformers.js convention: inputs
 * input_ids / attention_mask / position_ids / num_logits_to_keep / past_key_values.N.{key,value},
 * outputs logits / present.N.{key,value}, so its text-generation pipeline runs our files as is.
 * Every name the engine or the runner looks for comes from formats/onnx/decoder-names.ts.
 */
export interface BuildOnnxOptions {
  /** Storage of non-linear tensors (embedding, norms) and of dense linear weights. */
  storage?: 'fp32' | 'fp16';
  /** 'plain': standard ONNX ops only; 'fused': com.microsoft GroupQueryAttention + SimplifiedLayerNormalization. */
  ops?: 'plain' | 'fused';
  /** Decides each linear layer's weight form (dense, or MatMulNBits-packed). */
  linear?: LinearHook;
  /** How NBits linear weights are multiplied (default 'matmulnbits'; see quant-paths.ts). */
  quantizedMatMul?: QuantizedMatMul;
  /** Decides the token embedding's form (dense, or block-quantized and shared with a tied classifier). */
  embedding?: LinearHook;
  /** Weights go to `model.onnx_data` when they exceed this many bytes (default 1 GiB). */
  externalDataThreshold?: number;
  onProgress?: (p: { stage: 'build'; done: number; total: number }) => void;
}

/** One line of the per-tensor report in shrinkray.json. */
export interface TensorReport {
  name: string;
  shape: number[];
  kind: string; // 'fp32' | 'fp16' | 'nbits4' ...
  bytes: number;
}

export interface BuiltDecoder extends BuiltModel {
  tensors: TensorReport[];
}

/**
 * Below protobuf's 2 GiB limit on purpose: onnxruntime-web parses an inline model inside
 * its 4 GiB wasm32 heap holding the weights twice (a 2 GB fp32 Qwen2.5-0.5B fails with
 * bad_alloc inline and loads with external data).
 */
export const DEFAULT_EXTERNAL_DATA_THRESHOLD = 2 ** 30;

export const OPSETS = Object.freeze([
  { domain: '', version: 17 },
  { domain: 'com.microsoft', version: 1 },
]);

export async function buildOnnxDecoder(ir: ModelIR, opts: BuildOnnxOptions = {}): Promise<BuiltDecoder> {
  const c = ir.config;
  const storage = opts.storage ?? 'fp32';
  const hook = opts.linear ?? denseHook(storage);
  const fused = (opts.ops ?? 'plain') === 'fused';
  // onnxruntime's GroupQueryAttention kernels need head sizes that are multiples of 16.
  const fusedAttention = fused && c.headDim % 16 === 0;
  const g = new GraphBuilder('shrinkray_decoder');
  const report: TensorReport[] = [];
  const read = async (name: string, shape: number[]): Promise<Float32Array> => {
    const h = ir.tensors.get(name);
    if (!h) throw new ShrinkrayError('bad_file', `model has no tensor '${name}' (expected shape [${shape.join(', ')}])`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (h.shape.reduce((a, b) => a * b, 1) !== n) {
      throw new ShrinkrayError('bad_file', `tensor '${name}' has shape [${h.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return h.read();
  };
  const plainTensor = async (t: TensorEntry): Promise<string> => {
    const shape = [...t.shape];
    const data = await read(t.name, shape);
    report.push({ name: t.name, shape, kind: storage, bytes: data.length * (storage === 'fp16' ? 2 : 4) });
    return weightValue(g, t.name, data, shape, storage);
  };
  // A weight [out, in] (and its bias [out], when the table gives one) as y = x W^T + b.
  const linear = async (x: string, t: TensorEntry, biasEntry?: TensorEntry): Promise<string> => {
    const [out, inF] = t.shape as [number, number];
    const w = await hook(t.name, await read(t.name, [out, inF]), out, inF);
    report.push({ name: t.name, shape: [out, inF], kind: weightKind(w), bytes: linearWeightBytes(w, opts.quantizedMatMul) });
    const bias = biasEntry ? await read(biasEntry.name, [out]) : undefined;
    if (bias && biasEntry) report.push({ name: biasEntry.name, shape: [out], kind: 'fp32', bytes: bias.byteLength });
    return emitLinear(g, x, t.name, w, bias, opts.quantizedMatMul);
  };

  // Graph inputs (symbolic dims named as transformers.js expects).
  const kvShape = (len: string) => ['batch_size', c.numKvHeads, len, c.headDim];
  const inputIds = g.addInput(DECODER_INPUTS.inputIds, OnnxDataType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.addInput(DECODER_INPUTS.attentionMask, OnnxDataType.INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.addInput(DECODER_INPUTS.positionIds, OnnxDataType.INT64, ['batch_size', 'sequence_length']);
  // transformers.js feeds 1 while generating (only the last position's logits are needed:
  // the classifier is the largest matmul of a prefill) and 0 (keep all) otherwise. It is a
  // required input: onnxruntime-web hides inputs that have a default initializer.
  const logitsToKeep = g.addInput(DECODER_INPUTS.logitsToKeep, OnnxDataType.INT64, []);
  for (let l = 0; l < c.numLayers; l++) {
    g.addInput(pastName(l, 'key'), OnnxDataType.FLOAT, kvShape('past_sequence_length'));
    g.addInput(pastName(l, 'value'), OnnxDataType.FLOAT, kvShape('past_sequence_length'));
  }

  const embedHook = opts.embedding ?? denseHook(storage);
  const emb = modelTensor(c, 'embedding');
  const [vocab, dim] = emb.shape as [number, number];
  const embedWeight = await embedHook(emb.name, await read(emb.name, [vocab, dim]), vocab, dim);
  report.push({ name: emb.name, shape: [vocab, dim], kind: weightKind(embedWeight), bytes: linearWeightBytes(embedWeight) });
  const embedding = emitEmbedding(g, emb.name, embedWeight, inputIds);
  let x = embedding.embedded; // [B, S, dim]
  // Gemma: embeddings times sqrt(hidden_size); the tied classifier reads the table unscaled.
  if (c.embeddingScale !== undefined)
    x = g.op('Mul', [x, g.scalar(DECODER_INITIALIZERS.embedScale, c.embeddingScale)], { name: N.embedScaled });

  const attention = fusedAttention ? gqaAttention(g, c, attentionMask) : plainAttention(g, c, positionIds, attentionMask, inputIds);
  // LongRoPE and partial rotary: q and k turned before the attention, from gathered tables; Gemma 3: from RoPE computed in the graph.
  const gatheredRope = usesGatheredRope(c) ? emitGatheredRope(g, c, positionIds, attentionMask) : null;
  const computedRope = usesComputedRope(c) ? emitComputedRope(g, c, positionIds) : null;
  const turnBefore = (l: number) => gatheredRope ?? computedRope?.(l) ?? null;
  const norm = (input: string, weight: string, name: string) => emitRmsNorm(g, input, weight, c.rmsNormEps, name, fused);
  for (let l = 0; l < c.numLayers; l++) {
    const t = layerTensorMap(c, l);
    const xn = norm(x, await plainTensor(t.attnNorm), N.inputNorm(l));
    let q = await linear(xn, t.q, t.qBias);
    let k = await linear(xn, t.k, t.kBias);
    // Qwen3: RMSNorm over each head's headDim values ([B, S, heads, headDim]), before RoPE.
    const headNorm = async (x: string, heads: number, entry: TensorEntry, name: string) => {
      const perHead = g.op('Reshape', [x, g.int64(`heads_shape_${heads}`, [0, 0, heads, c.headDim])]);
      const normed = norm(perHead, await plainTensor(entry), name);
      return g.op('Reshape', [normed, g.int64(`merged_shape_${heads}`, [0, 0, heads * c.headDim])]);
    };
    if (t.qNorm) q = await headNorm(q, c.numHeads, t.qNorm, N.qNorm(l));
    if (t.kNorm) k = await headNorm(k, c.numKvHeads, t.kNorm, N.kNorm(l));
    const v = await linear(xn, t.v, t.vBias);
    const io = [pastName(l, 'key'), pastName(l, 'value'), presentName(l, 'key'), presentName(l, 'value')] as const;
    // SmolLM3's NoPE layers turn nothing.
    const rotate = layerHasRope(c, l);
    const gathered = turnBefore(l);
    if (rotate && gathered) {
      q = gathered(q, c.numHeads, N.qRope(l));
      k = gathered(k, c.numKvHeads, N.kRope(l));
    }
    const att = attention(l, q, k, v, ...io, rotate && !gathered);
    g.addOutput(io[2], OnnxDataType.FLOAT, kvShape('total_sequence_length'));
    g.addOutput(io[3], OnnxDataType.FLOAT, kvShape('total_sequence_length'));
    // Gemma's sandwich norms: the attention's and the MLP's outputs are normed before each residual add.
    const outNorm = async (y: string, entry: TensorEntry | undefined, name: string) =>
      entry ? norm(y, await plainTensor(entry), name) : y;
    x = g.op('Add', [x, await outNorm(await linear(att.context, t.o), t.attnPostNorm, N.attnOutNorm(l))], { name: N.attnResidual(l) });

    const hn = norm(x, await plainTensor(t.ffnNorm), N.postAttentionNorm(l));
    const gate = await linear(hn, t.gate);
    const up = await linear(hn, t.up);
    const gated =
      c.hiddenAct === 'gelu_tanh'
        ? emitGeluTanh(g, gate, N.geluTanh(l))
        : g.op('Mul', [gate, g.op('Sigmoid', [gate])], { name: N.silu(l) });
    const act = g.op('Mul', [gated, up]); // [B, S, ffn]
    x = g.op('Add', [x, await outNorm(await linear(act, t.down), t.ffnPostNorm, N.mlpOutNorm(l))], { name: N.mlpResidual(l) });
    opts.onProgress?.({ stage: 'build', done: l + 1, total: c.numLayers + 1 });
  }

  const xAll = norm(x, await plainTensor(modelTensor(c, 'finalNorm')), N.finalNorm); // [B, S, dim]
  // The last k positions; k = 0 gives Slice start -0 = 0, i.e. every position.
  const xf = g.op(
    'Slice',
    [
      xAll,
      g.op('Unsqueeze', [g.op('Neg', [logitsToKeep]), g.int64('axes_0', [0])]),
      g.int64('int64_max', [Number.MAX_SAFE_INTEGER]),
      g.int64('axes_1', [1]),
    ],
    { name: N.keepLogits },
  ); // [B, k or S, dim]
  const classifier = modelTensor(c, 'classifier');
  if (c.tieWordEmbeddings && !ir.tensors.has(classifier.name)) {
    g.node('Identity', [embedding.tiedClassifier(xf)], { outputs: [LOGITS_OUTPUT] });
  } else {
    const logits = await linear(xf, classifier);
    g.node('Identity', [logits], { outputs: [LOGITS_OUTPUT] });
  }
  g.addOutput(LOGITS_OUTPUT, OnnxDataType.FLOAT, ['batch_size', 'logits_length', c.vocabSize]);
  opts.onProgress?.({ stage: 'build', done: c.numLayers + 1, total: c.numLayers + 1 });
  const built = g.build({ opsets: OPSETS, externalDataThreshold: opts.externalDataThreshold ?? DEFAULT_EXTERNAL_DATA_THRESHOLD });
  return { ...built, tensors: report };
}

const weightKind = (w: LinearWeight): string =>
  w.kind === 'lowrank' ? `lowrank${w.rank}:${weightKind(w.a)}` : w.kind === 'dense' ? w.storage : `nbits${w.bits}`;

/** GELU's tanh approximation (gelu_pytorch_tanh): 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))), in plain ops. */
function emitGeluTanh(g: GraphBuilder, x: string, name: string): string {
  const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const inner = g.op('Mul', [
    g.op('Add', [x, g.op('Mul', [cube, g.scalar('gelu_cubic', 0.044715)])]),
    g.scalar('gelu_sqrt_2_pi', Math.sqrt(2 / Math.PI)),
  ]);
  const half = g.op('Mul', [x, g.scalar('gelu_half', 0.5)]);
  return g.op('Mul', [half, g.op('Add', [g.op('Tanh', [inner]), g.scalar('gelu_one', 1)])], { name });
}

/** x / sqrt(mean(x^2) + eps) * weight, over the last axis. */
function emitRmsNorm(g: GraphBuilder, x: string, weight: string, eps: number, name: string, fused: boolean): string {
  if (fused) {
    // ORT registers SimplifiedLayerNormalization in the default domain (a contrib op there).
    return g.op('SimplifiedLayerNormalization', [x, weight], {
      name,
      attrs: { axis: attr.int(-1), epsilon: attr.float(eps), stash_type: attr.int(1) },
    });
  }
  const meanSq = g.op('ReduceMean', [g.op('Mul', [x, x])], { attrs: { axes: attr.ints([-1]), keepdims: attr.int(1) } });
  const rms = g.op('Sqrt', [g.op('Add', [meanSq, g.scalar(DECODER_INITIALIZERS.rmsEps, eps)])]);
  return g.op('Mul', [g.op('Div', [x, rms]), weight], { name });
}

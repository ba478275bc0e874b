import { DECODER_INITIALIZERS as INIT, DECODER_NODES as N, LAYER_NODE_PATTERN, nodeName } from '../formats/onnx/decoder-names.ts';
import { gatheredRopeRows, ropeInverseFrequencies, usesComputedRope, usesGatheredRope } from '../model/rope-frequencies.ts';
import { layerHasRope, rotaryDims, type ModelConfig } from '../model/config.ts';
import { attentionScale, gqaLocalWindow, layerRopeConfig } from '../model/layer-kinds.ts';
import { bad, GraphIndex, intAttr, Unsupported } from './graph-index.ts';
import { ropeRows } from './rope-table.ts';

/**
 * What the engine computes without reading it from the graph, checked against the graph:
 * every op is one the builder emits (anything else may mean math the engine does not do),
 * the attention's heads, scale and RoPE tables, and the RMSNorm epsilon agree with
 * config.json. A disagreement is a 'bad_file' error (the graph and its config do not
 * belong together); an op outside the list, or a node or initializer missing under the name
 * decoder-names.ts gives it, is Unsupported (onnxruntime-web may run it), naming what it is.
 */
const KNOWN_OPS = new Set([
  // plain attention, RMSNorm, SwiGLU, residuals, embedding, logits slicing
  'Gather',
  'Unsqueeze',
  'Shape',
  'Squeeze',
  'Sub',
  'Range',
  'LessOrEqual',
  'Cast',
  'And',
  'Where',
  'Slice',
  'Concat',
  'Add',
  'Mul',
  'Reshape',
  'Transpose',
  'MatMul',
  'Softmax',
  'ReduceMean',
  'Sqrt',
  'Div',
  'Sigmoid',
  'Neg',
  'Identity',
  'Gemm',
  'ReduceSum',
  'SimplifiedLayerNormalization',
  'Greater', // LongRoPE's switch (gathered-rope.ts)
  'Tanh', // Gemma's GeGLU (tanh GELU)
  'Cos', // Gemma's RoPE, computed in the graph (computed-rope.ts)
  'Sin',
  // contrib ops
  'com.microsoft:MatMulNBits',
  'com.microsoft:GatherBlockQuantized',
  'com.microsoft:GroupQueryAttention',
]);

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/** An fp32 scalar initializer the builder names `name`; a graph without one is not the builder's. */
function scalarF32(ix: GraphIndex, name: string, what: string): number {
  const t = ix.initializer(name);
  if (!t || t.dataType !== 1 || t.dims.length !== 0) throw new Unsupported(`${ix.g.name} has no fp32 scalar '${name}' (${what})`);
  return new DataView(ix.g.memory()).getFloat32(ix.address(t, 4), true);
}

/** Compares the graph's RoPE table at a few positions with the one the engine computes. */
function checkRopeTable(ix: GraphIndex, c: ModelConfig, name: string, width: number, sinSign: number): void {
  const t = ix.initializer(name);
  const maxPos = c.maxPositionEmbeddings;
  if (!t || t.dataType !== 1 || t.dims.length !== 2) throw new Unsupported(`${ix.g.name}: no RoPE table '${name}'`);
  if (t.dims[0] !== maxPos || t.dims[1] !== width) {
    throw bad(
      ix.g.name,
      `its RoPE table '${name}' has shape [${t.dims.join(', ')}], but config.json implies [${maxPos}, ${width}] (max_position_embeddings, head size)`,
    );
  }
  const at = ix.address(t, 4);
  const view = new DataView(ix.g.memory());
  const half = c.headDim / 2;
  const isSin = name === INIT.ropeSin || name === INIT.ropeSinCache;
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  for (const p of [1, 2, 3, Math.floor(maxPos / 2), maxPos - 1]) {
    ropeRows(c, p, 1, cos, sin);
    for (let i = 0; i < half; i++) {
      const want = isSin ? sinSign * sin[i]! : cos[i]!;
      const got = view.getFloat32(at + 4 * (p * width + i), true);
      if (!close(got, want)) {
        throw bad(
          ix.g.name,
          `its RoPE table '${name}' at position ${p} differs from rope_theta ${c.ropeTheta} in config.json (${got} vs ${want})`,
        );
      }
    }
  }
}

/** The gathered tables (LongRoPE, partial rotary): shape [short + long rows, rotary/2] and a few rows of each part against the engine's. */
function checkGatheredTable(ix: GraphIndex, c: ModelConfig, name: string): void {
  const t = ix.initializer(name);
  const half = rotaryDims(c) / 2;
  const { shortRows, longRows, switchAt } = gatheredRopeRows(c);
  if (!t || t.dataType !== 1 || t.dims.length !== 2) throw new Unsupported(`${ix.g.name}: no RoPE table '${name}'`);
  if (t.dims[0] !== shortRows + longRows || t.dims[1] !== half) {
    throw bad(
      ix.g.name,
      `its RoPE table '${name}' has shape [${t.dims.join(', ')}], but config.json implies [${shortRows + longRows}, ${half}] (positions with the short and long factors, rotary dims / 2)`,
    );
  }
  const at = ix.address(t, 4);
  const view = new DataView(ix.g.memory());
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  const rows: [number, number, number][] = [1, 2, shortRows - 1].map((p) => [p, p, switchAt]); // [row, position, call length]
  if (longRows) rows.push(...[1, 2, longRows - 1].map((p): [number, number, number] => [shortRows + p, p, switchAt + 1]));
  for (const [row, p, seqLen] of rows) {
    ropeRows(c, p, 1, cos, sin, seqLen);
    for (let i = 0; i < half; i++) {
      const want = name === INIT.ropeSinRows ? sin[i]! : cos[i]!;
      const got = view.getFloat32(at + 4 * (row * half + i), true);
      if (!close(got, want))
        throw bad(ix.g.name, `its RoPE table '${name}' at row ${row} differs from config.json's RoPE (${got} vs ${want})`);
    }
  }
}

/** Computed RoPE's inverse frequencies [headDim/2] against the engine's, fp32 as both use them. */
function checkInvFreq(ix: GraphIndex, c: ModelConfig, name: string): void {
  const t = ix.initializer(name);
  const want = Float32Array.from(ropeInverseFrequencies(c));
  if (!t || t.dataType !== 1 || t.dims.length !== 1) throw new Unsupported(`${ix.g.name}: no RoPE inverse frequencies '${name}'`);
  const view = new DataView(ix.g.memory());
  const at = ix.address(t, 4);
  if (t.dims[0] !== want.length || want.some((f, i) => view.getFloat32(at + 4 * i, true) !== f))
    throw bad(ix.g.name, `its RoPE inverse frequencies '${name}' differ from config.json's RoPE (base ${c.ropeTheta})`);
}

function checkEps(ix: GraphIndex, c: ModelConfig, eps: number | undefined, where: string): void {
  if (eps === undefined || !close(eps, Math.fround(c.rmsNormEps))) {
    throw bad(ix.g.name, `its RMSNorm epsilon (${eps}, ${where}) differs from rms_norm_eps ${c.rmsNormEps} in config.json`);
  }
}

export function checkGraph(ix: GraphIndex, c: ModelConfig): void {
  for (const n of ix.g.graph.nodes) {
    const key = n.domain ? `${n.domain}:${n.opType}` : n.opType;
    if (!KNOWN_OPS.has(key))
      throw new Unsupported(
        `${ix.g.name}: node '${n.name}' is ${n.domain ? `${n.domain}.` : ''}${n.opType}, an op the CPU engine does not run`,
      );
  }
  // Layers the config does not count would be skipped without a word: count them all. Layers
  // 0..k-1 and a config that says otherwise disagree; a gap means other names, met below.
  const layers = new Set(ix.g.graph.nodes.map((n) => LAYER_NODE_PATTERN.exec(n.name)?.[1]).filter((l) => l !== undefined));
  const counted = layers.size;
  if (counted !== c.numLayers && [...layers].every((l) => Number(l) < counted))
    throw bad(ix.g.name, `it has ${counted} decoder layers, but num_hidden_layers in config.json is ${c.numLayers}`);
  const hd = c.headDim;
  const scale = Math.fround(attentionScale(c)); // 1/sqrt(head size), Gemma's query_pre_attn_scalar^-0.5
  const fused = ix.find(N.gqa(0)) !== undefined;
  if (!fused && !ix.find(N.softmax(0)))
    throw new Unsupported(
      `${ix.g.name} has neither '${nodeName(N.gqa(0))}' nor '${nodeName(N.softmax(0))}': its attention is not the builder's`,
    );
  const gathered = usesGatheredRope(c);
  const computed = usesComputedRope(c); // Gemma 3: q and k turned before the attention, by RoPE computed in the graph
  const turnsBefore = gathered || computed;
  for (let l = 0; l < c.numLayers; l++) {
    // Which layers turn q and k, and where: the engine follows config.json (NoPE layers, LongRoPE, partial rotary), so the graph must agree.
    const rotates = layerHasRope(c, l);
    const turnedBefore = ix.find(N.qRope(l)) !== undefined;
    const turnedInside = fused
      ? intAttr(ix.node(N.gqa(l), ['GroupQueryAttention']), 'do_rotary') === 1
      : ix.find(`${N.attention(l)}.q_rot`) !== undefined;
    if (turnedBefore !== (rotates && turnsBefore) || turnedInside !== (rotates && !turnsBefore))
      throw bad(
        ix.g.name,
        `layer ${l} ${turnedBefore || turnedInside ? 'applies' : 'skips'} RoPE${turnedBefore ? ' before its attention' : ''}, but config.json ${rotates ? `turns it${gathered ? ' from gathered tables (LongRoPE or partial rotary)' : ''}` : 'names it a layer without RoPE (no_rope_layers)'}`,
      );
    if (fused) {
      const n = ix.node(N.gqa(l), ['GroupQueryAttention']);
      const heads = intAttr(n, 'num_heads');
      const kv = intAttr(n, 'kv_num_heads');
      if (heads !== c.numHeads || kv !== c.numKvHeads) {
        throw bad(ix.g.name, `layer ${l} attends with ${heads} heads / ${kv} KV heads, config.json says ${c.numHeads} / ${c.numKvHeads}`);
      }
      const s = n.attributes.get('scale');
      if (
        (intAttr(n, 'rotary_interleaved') ?? 0) !== 0 ||
        (intAttr(n, 'local_window_size') ?? -1) !== gqaLocalWindow(c, l) ||
        (s?.kind === 'float' && !close(s.value, scale)) ||
        n.attributes.has('softcap')
      ) {
        throw new Unsupported(
          `${ix.g.name}: GroupQueryAttention '${n.name}' is not plain causal rotate-half attention with config.json's sliding_window (${c.slidingWindow ?? 'null'})`,
        );
      }
    } else ix.node(N.softmax(l), ['Softmax']);
    // The engine slides its window from config.json's sliding_window: a plain graph's mask must agree.
    if (!fused && (ix.find(N.maskWindow) !== undefined) !== (c.slidingWindow !== undefined))
      throw bad(
        ix.g.name,
        `its attention mask ${c.slidingWindow === undefined ? 'slides a window' : `has no sliding window (no node '${nodeName(N.maskWindow)}')`}, but config.json's sliding_window is ${c.slidingWindow ?? 'null'}`,
      );
    // A per-head q/k norm the config does not name would be skipped without a word (and one it names is read in graph-weights.ts).
    if (!c.qkNorm && (ix.find(N.qNorm(l)) || ix.find(N.kNorm(l))))
      throw bad(
        ix.g.name,
        `layer ${l} normalises each query/key head, but config.json's architecture ${c.architecture} has no q_norm/k_norm`,
      );
    const headNorms = c.qkNorm ? [N.qNorm(l), N.kNorm(l)] : [];
    // Gemma: the attention and MLP outputs are normed, and the MLP's gate is tanh GELU; the engine follows config.json, so the graph must agree.
    const outNorms = c.sandwichNorms ? [N.attnOutNorm(l), N.mlpOutNorm(l)] : [];
    if ((ix.find(N.attnOutNorm(l)) !== undefined) !== (c.sandwichNorms === true))
      throw bad(
        ix.g.name,
        `layer ${l} ${c.sandwichNorms ? 'lacks' : 'has'} a norm on the attention output, unlike config.json's ${c.architecture}`,
      );
    if ((ix.find(N.geluTanh(l)) !== undefined) !== (c.hiddenAct === 'gelu_tanh'))
      throw bad(
        ix.g.name,
        `layer ${l}'s MLP gate is not config.json's activation (${c.hiddenAct === 'gelu_tanh' ? 'gelu_pytorch_tanh' : 'silu'})`,
      );
    for (const norm of [N.inputNorm(l), N.postAttentionNorm(l), ...headNorms, ...outNorms]) {
      const n = ix.node(norm, ['Mul', 'SimplifiedLayerNormalization']);
      if (n.opType === 'SimplifiedLayerNormalization') {
        const e = n.attributes.get('epsilon');
        checkEps(ix, c, e?.kind === 'float' ? e.value : undefined, n.name);
      }
    }
  }
  if ((ix.find(N.embedScaled) !== undefined) !== (c.embeddingScale !== undefined))
    throw bad(
      ix.g.name,
      `its embeddings are ${c.embeddingScale === undefined ? '' : 'not '}scaled, unlike config.json's ${c.architecture}`,
    );
  if (c.embeddingScale !== undefined && !close(scalarF32(ix, INIT.embedScale, 'the embedding scale'), Math.fround(c.embeddingScale)))
    throw bad(ix.g.name, `its embedding scale differs from sqrt(hidden_size) = ${c.embeddingScale}`);
  if (computed) {
    // Gemma 3: the inverse frequencies the graph turns by, rope_theta's and (its sliding layers') rope_local_base_freq's.
    checkInvFreq(ix, c, INIT.ropeInvFreq);
    const sliding = c.slidingLayers?.[0];
    if (sliding !== undefined && c.ropeLocalTheta !== undefined) checkInvFreq(ix, layerRopeConfig(c, sliding), INIT.ropeInvFreqLocal);
  }
  if (gathered || computed) {
    if (gathered) checkGatheredTable(ix, c, INIT.ropeCosRows);
    if (gathered) checkGatheredTable(ix, c, INIT.ropeSinRows);
    if (!fused) {
      const s = scalarF32(ix, INIT.attnScale, 'the attention scale');
      if (!close(s, scale)) throw bad(ix.g.name, `its attention scale (${s}) is not config.json's ${scale}`);
    }
  } else if (fused) {
    checkRopeTable(ix, c, INIT.ropeCosCache, hd / 2, 1);
    checkRopeTable(ix, c, INIT.ropeSinCache, hd / 2, 1);
  } else {
    const s = scalarF32(ix, INIT.attnScale, 'the attention scale');
    if (!close(s, scale)) throw bad(ix.g.name, `its attention scale (${s}) is not config.json's ${scale}`);
    checkRopeTable(ix, c, INIT.ropeCos, hd, 1);
    checkRopeTable(ix, c, INIT.ropeSin, hd, -1); // the builder folds rotate-half's sign into the first half
  }
  if (ix.node(N.finalNorm, ['Mul', 'SimplifiedLayerNormalization']).opType === 'Mul')
    checkEps(ix, c, scalarF32(ix, INIT.rmsEps, 'the RMSNorm epsilon'), INIT.rmsEps);
}

import { ShrinkrayError } from '../errors.ts';
import { checkForwardTokens, checkTruncateLength, type CausalLM, type DecoderState } from './causal-lm.ts';
import { type ModelConfig } from './config.ts';
import { attentionScale, layerWindow } from './layer-kinds.ts';
import type { ModelIR } from './ir.ts';
import type { LinearKind } from './tensor-table.ts';
import { addInPlace, applyRope, causalAttention, linear, rmsNorm } from './reference-ops.ts';
import { gatedActivation, layerRopeTables, scaleInPlace } from './reference-layer-ops.ts';
import { storedLinear, widenRows } from './reference-half.ts';
import { loadReferenceWeights, widenLayer, type ReferenceWeights } from './reference-weights.ts';

/**
 * The KV cache of the reference model: per layer, the rotated keys and the values of every
 * position seen so far, stored transposed (one row per KV head and head dim, one column
 * per position) for the attention loops. It grows by doubling, up to the context length.
 */
export class ReferenceState implements DecoderState {
  length = 0;
  capacity = 0; // columns allocated per cache row
  keys: Float32Array[] = []; // per layer: [kvHeads*headDim, capacity], RoPE already applied
  values: Float32Array[] = []; // per layer: [kvHeads*headDim, capacity]
  private disposed = false;

  constructor(
    readonly owner: ReferenceModel,
    private readonly numLayers: number,
    private readonly kvDim: number,
    private readonly maxLength: number,
  ) {}

  /** Makes room for `needed` positions; callers have already checked the context length. */
  reserve(needed: number): void {
    if (this.disposed) throw new ShrinkrayError('bad_argument', 'this decoder state was disposed');
    if (needed <= this.capacity) return;
    const capacity = Math.min(this.maxLength, Math.max(needed, this.capacity * 2, 16));
    const grow = (old: Float32Array | undefined): Float32Array => {
      const next = new Float32Array(this.kvDim * capacity);
      for (let r = 0; old && r < this.kvDim; r++) {
        next.set(old.subarray(r * this.capacity, r * this.capacity + this.length), r * capacity);
      }
      return next;
    };
    for (let l = 0; l < this.numLayers; l++) {
      this.keys[l] = grow(this.keys[l]);
      this.values[l] = grow(this.values[l]);
    }
    this.capacity = capacity;
  }

  /** Writes rows [T, kvDim] of keys and values for positions start..start+T-1 of `layer`. */
  store(layer: number, start: number, k: Float32Array, v: Float32Array, T: number): void {
    const keys = this.keys[layer]!;
    const values = this.values[layer]!;
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < this.kvDim; r++) {
        keys[r * this.capacity + start + t] = k[t * this.kvDim + r]!;
        values[r * this.capacity + start + t] = v[t * this.kvDim + r]!;
      }
    }
  }

  dispose(): void {
    this.keys = [];
    this.values = [];
    this.capacity = 0;
    this.length = 0;
    this.disposed = true;
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ShrinkrayError('aborted', 'the forward pass was cancelled');
}

/**
 * The fp32 reference forward pass of the Llama family (Llama, Mistral, SmolLM, TinyLlama,
 * Qwen2 with its q/k/v bias, Qwen3 with its per-head q/k norms, Phi-3 split at import, SmolLM3 without RoPE on its NoPE
 * layers, Gemma 3 with its scaled embeddings, output norms, GeGLU, query_pre_attn_scalar and sliding layers' own window
 * and RoPE base; its (1 + w) norms arrive folded, gemma-norms.ts): RMSNorm, rotate-half RoPE (over part of each head, LongRoPE-scaled, as the config says),
 * causal grouped-query attention (over a sliding window when the config has one),
 * SwiGLU, tied or untied classifier. It is the yardstick for every compressed model and
 * the engine for calibration, so it favours clarity and accuracy over speed.
 */
export class ReferenceModel implements CausalLM {
  private constructor(
    readonly config: ModelConfig,
    readonly weights: ReferenceWeights,
  ) {}

  /** Reads every tensor of `ir` through its handle and checks its shape against the config. */
  static async load(ir: ModelIR): Promise<ReferenceModel> {
    return new ReferenceModel(ir.config, await loadReferenceWeights(ir));
  }

  createState(): ReferenceState {
    const c = this.config;
    return new ReferenceState(this, c.numLayers, c.numKvHeads * c.headDim, c.maxPositionEmbeddings);
  }

  /** Logits of every new position: [tokens.length, vocabSize]. */
  async forward(state: DecoderState, tokens: readonly number[], signal?: AbortSignal): Promise<Float32Array> {
    const s = this.ownState(state);
    checkForwardTokens(this.config, s.length, tokens);
    throwIfAborted(signal);
    const c = this.config;
    const T = tokens.length;
    const start = s.length;
    const dim = c.hiddenSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const ffn = c.intermediateSize;
    s.reserve(start + T);

    const x = this.embed(tokens); // [T, dim], the residual stream
    // LongRoPE picks its factors by this call's end (start + T); the cached keys keep theirs.
    const ropes = layerRopeTables(c, start, T);
    const scale = c.queryPreAttnScalar === undefined ? {} : { scale: attentionScale(c) };
    for (let l = 0; l < c.numLayers; l++) {
      const shape = { T, start, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, window: layerWindow(c, l), ...scale };
      const w = widenLayer(this.weights.layers[l]!); // a 16-bit checkpoint's layer widened while it runs, then dropped
      const xn = rmsNorm(x, w.attnNorm, T, dim, c.rmsNormEps);
      // A linear stored as two factors (lr recipes) is two products, x Aᵀ then Bᵀ.
      const proj = (x: Float32Array, key: LinearKind, bias: Float32Array | null, inDim: number, outDim: number) => {
        const f = w.factors?.[key];
        return f ? linear(linear(x, f.a, null, T, inDim, f.rank), f.b, bias, T, f.rank, outDim) : linear(x, w[key], bias, T, inDim, outDim);
      };
      let q = proj(xn, 'q', w.qBias, dim, qDim); // [T, qDim]
      let k = proj(xn, 'k', w.kBias, dim, kvDim); // [T, kvDim]
      // Qwen3: each head's query and key RMS-normalised over its headDim values, before RoPE.
      if (w.qNorm) q = rmsNorm(q, w.qNorm, T * c.numHeads, c.headDim, c.rmsNormEps);
      if (w.kNorm) k = rmsNorm(k, w.kNorm, T * c.numKvHeads, c.headDim, c.rmsNormEps);
      const v = proj(xn, 'v', w.vBias, dim, kvDim); // [T, kvDim]
      const rope = ropes(l);
      if (rope) {
        applyRope(q, T, c.numHeads, c.headDim, rope);
        applyRope(k, T, c.numKvHeads, c.headDim, rope);
      }
      // Written past s.length only; the state's length moves once the whole pass is done,
      // so a cancelled pass leaves the cache as it was.
      s.store(l, start, k, v, T);
      const att = causalAttention(q, s.keys[l]!, s.values[l]!, s.capacity, shape); // [T, qDim]
      const attOut = proj(att, 'o', null, qDim, dim); // [T, dim]
      // Gemma's sandwich norms: the attention's and the MLP's outputs are normed before each residual add.
      addInPlace(x, w.attnPostNorm ? rmsNorm(attOut, w.attnPostNorm, T, dim, c.rmsNormEps) : attOut);

      const hn = rmsNorm(x, w.ffnNorm, T, dim, c.rmsNormEps);
      const gate = proj(hn, 'gate', null, dim, ffn); // [T, ffn]
      const up = proj(hn, 'up', null, dim, ffn); // [T, ffn]
      const mlpOut = proj(gatedActivation(c, gate, up), 'down', null, ffn, dim); // [T, dim]
      addInPlace(x, w.ffnPostNorm ? rmsNorm(mlpOut, w.ffnPostNorm, T, dim, c.rmsNormEps) : mlpOut);
      throwIfAborted(signal);
    }
    const xf = rmsNorm(x, this.weights.finalNorm, T, dim, c.rmsNormEps);
    const logits = storedLinear(linear, xf, this.weights.classifier, T, dim, c.vocabSize); // [T, vocab]
    s.length = start + T;
    return logits;
  }

  /** The positions past `length` stay in the arrays but are never read: the next forward call overwrites them. */
  async truncate(state: DecoderState, length: number): Promise<void> {
    const s = this.ownState(state);
    checkTruncateLength(s.length, length);
    s.length = length;
  }

  async dispose(): Promise<void> {}

  /** Rows of the embedding table, times the config's embedding scale (Gemma: sqrt(hidden_size)). -> [T, dim] */
  private embed(tokens: readonly number[]): Float32Array {
    const dim = this.config.hiddenSize;
    const x = new Float32Array(tokens.length * dim);
    tokens.forEach((id, t) => x.set(widenRows(this.weights.embedding, id, id + 1, dim), t * dim));
    return scaleInPlace(x, this.config.embeddingScale);
  }

  private ownState(state: DecoderState): ReferenceState {
    if (!(state instanceof ReferenceState) || state.owner !== this) {
      throw new ShrinkrayError('bad_argument', 'the decoder state was not created by this reference model');
    }
    return state;
  }
}

import { ShrinkrayError } from '../errors.ts';
import { type ModelConfig } from '../model/config.ts';
import { attentionScale, layerWindow } from '../model/layer-kinds.ts';
import { addInPlace, applyRope, rmsNorm, type RopeTable } from '../model/reference-ops.ts';
import { gegluTanh } from '../model/reference-layer-ops.ts';
import type { LayerWeights } from '../model/reference-weights.ts';
import type { CalibBackend } from './calib-backend.ts';

/**
 * One decoder block run over the calibration windows, stage by stage, so each group of
 * linear layers can be compressed on inputs that already went through the compressed
 * groups before it (GPTQ's "true sequential" order):
 *
 *   x ─norm─> [attn in] ─q,k,v, RoPE, attention─> [o in] ─o, (norm,) +x─> mid ─norm─> [mlp in]
 *     ─gate, up, SwiGLU (GeGLU)─> [down in] ─down, (norm,) +mid─> out
 *
 * (the norms in brackets are Gemma's post-attention and post-feedforward norms).
 *
 * A pass runs every window up to a stage and hands each window's input of the chosen
 * linears to a sink (the statistics). Per window the block keeps its input x and, once the
 * weights before them are final, the attention output or `mid`, so a later pass starts
 * there instead of recomputing: memory is a few [T, dim] arrays per window, one block's
 * activations, whatever the depth of the model. The SwiGLU output [T, ffn] is kept too
 * while all windows' copies fit in ACT_CACHE_BYTES (it spares the last pass gate and up).
 */
export const ACT_CACHE_BYTES = 256 * 2 ** 20;

export type BlockInput = 'attn' | 'o' | 'mlp' | 'down';

/** Which linear layers read each input. */
export const INPUT_LINEARS: Readonly<Record<BlockInput, readonly ('q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down')[]>> = Object.freeze({
  attn: ['q', 'k', 'v'],
  o: ['o'],
  mlp: ['gate', 'up'],
  down: ['down'],
});

export type InputSink = (x: Float32Array, T: number) => void | Promise<void>;

export class BlockRunner {
  /** Weights before them final: cached intermediates stay valid. */
  readonly final: Record<BlockInput, boolean> = { attn: false, o: false, mlp: false, down: false };
  private att: (Float32Array | null)[];
  private mid: (Float32Array | null)[];
  private act: (Float32Array | null)[];

  /**
   * @param x the residual stream entering this block, one [T, dim] array per window; the
   *          final pass ('out') replaces each with the block's output.
   */
  constructor(
    private readonly backend: CalibBackend,
    public config: ModelConfig, // the layer's shapes (after structured pruning, once it is done)
    public weights: LayerWeights,
    readonly x: Float32Array[],
    private readonly rope: RopeTable | null, // positions 0..maxT-1 (layerRopeTables: this layer's); null for a layer without RoPE (SmolLM3's NoPE layers)
    private readonly signal?: AbortSignal,
    private readonly layer = 0, // the decoder layer: which window it slides (Gemma 3's sliding_attention layers)
  ) {
    this.att = x.map(() => null);
    this.mid = x.map(() => null);
    this.act = x.map(() => null);
  }

  /** Forgets cached intermediates (after the shapes or weights before them changed). */
  reset(): void {
    this.att.fill(null);
    this.mid.fill(null);
    this.act.fill(null);
  }

  /**
   * Runs every window (or only window `only`) up to `until` ('out': the whole block,
   * replacing x), feeding the inputs named in `sinks` on the way.
   */
  async pass(until: BlockInput | 'out', sinks: Partial<Record<BlockInput, InputSink>> = {}, only?: number): Promise<void> {
    const c = this.config;
    const dim = c.hiddenSize;
    for (let w = only ?? 0; w < (only === undefined ? this.x.length : only + 1); w++) {
      if (this.signal?.aborted) throw new ShrinkrayError('aborted', 'calibration was cancelled');
      const x = this.x[w]!;
      const T = x.length / dim;
      let mid = until === 'o' ? null : this.mid[w];
      if (!mid) {
        let att = this.att[w];
        if (!att || sinks.attn) {
          const xn = rmsNorm(x, this.weights.attnNorm, T, dim, c.rmsNormEps);
          await sinks.attn?.(xn, T);
          if (until === 'attn') continue;
          att = await this.attention(xn, T);
          if (this.final.attn) this.att[w] = att;
        }
        await sinks.o?.(att, T);
        if (until === 'o') continue;
        mid = Float32Array.from(x);
        const attOut = await this.backend.linear(att, T, this.weights.o, dim, c.numHeads * c.headDim, null);
        addInPlace(mid, this.weights.attnPostNorm ? rmsNorm(attOut, this.weights.attnPostNorm, T, dim, c.rmsNormEps) : attOut);
        if (this.final.attn && this.final.o) {
          this.mid[w] = mid;
          this.att[w] = null;
        }
      }
      const ffn = c.intermediateSize;
      let act = sinks.mlp ? null : this.act[w];
      if (!act) {
        const hn = rmsNorm(mid, this.weights.ffnNorm, T, dim, c.rmsNormEps);
        await sinks.mlp?.(hn, T);
        if (until === 'mlp') continue;
        const gate = await this.backend.linear(hn, T, this.weights.gate, ffn, dim, null);
        const up = await this.backend.linear(hn, T, this.weights.up, ffn, dim, null);
        // Gemma's GeGLU: the fp32 reference op (element-wise, no product to speed up), on a copy as the backends' swiglu leaves gate as it is.
        act = c.hiddenAct === 'gelu_tanh' ? gegluTanh(Float32Array.from(gate), up) : await this.backend.swiglu(gate, up);
        if (this.mid[w] === mid && this.final.mlp && this.actFits()) this.act[w] = act;
      }
      await sinks.down?.(act, T);
      if (until === 'down') continue;
      const mlpOut = await this.backend.linear(act, T, this.weights.down, dim, ffn, null);
      addInPlace(mid, this.weights.ffnPostNorm ? rmsNorm(mlpOut, this.weights.ffnPostNorm, T, dim, c.rmsNormEps) : mlpOut);
      this.x[w] = mid; // the block's output: the next block's input
      this.mid[w] = null;
      this.att[w] = null;
      this.act[w] = null;
    }
  }

  /** Whether every window's SwiGLU output fits in ACT_CACHE_BYTES. */
  private actFits(): boolean {
    const tokens = this.x.reduce((n, x) => n + x.length / this.config.hiddenSize, 0);
    return tokens * this.config.intermediateSize * 4 <= ACT_CACHE_BYTES;
  }

  /** q, k, v, RoPE at positions 0..T-1, causal attention -> [T, numHeads * headDim]. */
  private async attention(xn: Float32Array, T: number): Promise<Float32Array> {
    const c = this.config;
    const w = this.weights;
    const dim = c.hiddenSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    let q = await this.backend.linear(xn, T, w.q, qDim, dim, w.qBias);
    let k = await this.backend.linear(xn, T, w.k, kvDim, dim, w.kBias);
    // Qwen3's per-head norms: fp32 reference ops, as they are headDim-wide vectors, not a linear layer's work.
    if (w.qNorm) q = rmsNorm(q, w.qNorm, T * c.numHeads, c.headDim, c.rmsNormEps);
    if (w.kNorm) k = rmsNorm(k, w.kNorm, T * c.numKvHeads, c.headDim, c.rmsNormEps);
    const v = await this.backend.linear(xn, T, w.v, kvDim, dim, w.vBias);
    // Gemma's query_pre_attn_scalar: the backends scale by 1 / sqrt(headDim), so q carries the rest of the scale.
    if (c.queryPreAttnScalar !== undefined && c.queryPreAttnScalar !== c.headDim) {
      const qScale = attentionScale(c) * Math.sqrt(c.headDim);
      q = q.map((v) => v * qScale);
    }
    if (this.rope) {
      const rope = T * this.rope.half === this.rope.cos.length ? this.rope : sliceRope(this.rope, T);
      applyRope(q, T, c.numHeads, c.headDim, rope);
      applyRope(k, T, c.numKvHeads, c.headDim, rope);
    }
    const shape = { T, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim };
    const window = layerWindow(c, this.layer);
    return this.backend.attention(q, k, v, window === undefined ? shape : { ...shape, window });
  }
}

function sliceRope(r: RopeTable, T: number): RopeTable {
  const n = T * r.half;
  return { cos: r.cos.subarray(0, n), sin: r.sin.subarray(0, n), half: r.half };
}

import type { CalibBackend } from './calib-backend.ts';
import type { InputSink } from './block-runner.ts';

/**
 * What the methods need to know about one linear layer's inputs x [tokens, K], summed over
 * every calibration window in window order (float64 totals, so the result does not depend
 * on how windows are grouped):
 *   gram    Σ xᵀx [K, K]        GPTQ and SparseGPT's Hessian, AWQ's output error, head scores
 *   sumSq   Σ x² per channel     Wanda's ‖X_j‖², FFN channel scores
 *   absSum  Σ |x| per channel    AWQ's activation scale
 *   shift   Σ (x̃ - x)ᵀx [K, K]   with x̃ the float model's input at the same place: GPTQ's
 *                               float targets (float-targets.ts)
 */
export interface StatsWanted {
  gram?: boolean;
  sumSq?: boolean;
  absSum?: boolean;
  shift?: boolean;
}

export class InputStats {
  readonly gram: Float64Array | null;
  readonly sumSq: Float64Array | null;
  readonly absSum: Float64Array | null;
  readonly shift: Float64Array | null;
  tokens = 0;

  constructor(
    readonly K: number,
    want: StatsWanted,
    private readonly backend: CalibBackend,
  ) {
    this.gram = want.gram ? new Float64Array(K * K) : null;
    this.sumSq = want.sumSq && !want.gram ? new Float64Array(K) : null;
    this.absSum = want.absSum ? new Float64Array(K) : null;
    this.shift = want.shift ? new Float64Array(K * K) : null;
  }

  /** One window seen by the compressed model (x) and by the float one (xf). */
  async addPair(x: Float32Array, xf: Float32Array, T: number): Promise<void> {
    await this.sink(x, T);
    if (!this.shift) return;
    const d = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) d[i] = xf[i]! - x[i]!;
    const g = await this.backend.cross(d, x, T, this.K);
    for (let i = 0; i < g.length; i++) this.shift[i]! += g[i]!;
  }

  /** The sink a BlockRunner pass feeds. */
  readonly sink: InputSink = async (x, T) => {
    const K = this.K;
    this.tokens += T;
    if (this.gram) {
      const g = await this.backend.gram(x, T, K);
      for (let i = 0; i < K * K; i++) this.gram[i]! += g[i]!;
    }
    if (this.sumSq) {
      for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) this.sumSq[k]! += x[t * K + k]! * x[t * K + k]!;
    }
    if (this.absSum) {
      for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) this.absSum[k]! += Math.abs(x[t * K + k]!);
    }
  };

  /** H = Σ xᵀx / tokens [K, K]. */
  hessian(): Float64Array {
    const h = new Float64Array(this.gram!);
    const n = Math.max(1, this.tokens);
    for (let i = 0; i < h.length; i++) h[i]! /= n;
    return h;
  }

  /** Σ (x̃ - x)ᵀx / tokens [K, K]. */
  meanShift(): Float64Array {
    const n = Math.max(1, this.tokens);
    return this.shift!.map((v) => v / n);
  }

  /** Σ x² per channel [K] (the Gram diagonal when there is one). */
  channelSumSq(): Float64Array {
    if (this.sumSq) return this.sumSq;
    const K = this.K;
    return Float64Array.from({ length: K }, (_, i) => this.gram![i * K + i]!);
  }

  /** Mean |x| per channel [K]. */
  channelMeanAbs(): Float64Array {
    const n = Math.max(1, this.tokens);
    return this.absSum!.map((s) => s / n);
  }
}

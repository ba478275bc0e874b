import { dequantizeCodes, rtnCodes } from '../kernels/quantize/nbits-codes.ts';
import type { CalibBackend } from './calib-backend.ts';
import type { QuantSpec } from './recipe.ts';

/**
 * AWQ (Lin et al. 2023): before round-to-nearest, scale each input channel k of a group of
 * linear layers by s_k (W' = W·diag(s)) and divide the operation before them by s_k, so the
 * float model is unchanged but the channels with large activations lose less to rounding.
 * s = mean|x|^α, normalised by sqrt(max·min), with α searched over a grid of 20 (α = 0 is
 * plain RTN, so the search never does worse than RTN on its own measure).
 *
 * The measure is the squared error of the group's outputs over every calibration token,
 * Σ_n Δ_n H Δ_nᵀ with Δ = Q(W·diag(s))·diag(s)⁻¹ − W and H = XᵀX/n: exact for the linear
 * layers themselves, and free of stored activations. (AWQ's reference measures the output
 * of the whole attention or MLP module on a sample; this keeps memory at one Gram matrix.)
 */
export const AWQ_GRID = 20;

export interface AwqGroup {
  reference: Float32Array[]; // the group's weights [N_i, K] as they should act
  toQuantize: Float32Array[]; // the same, masked when a mask step came first
  rows: number[]; // N_i
  K: number;
  meanAbs: Float64Array; // mean |x| per input channel [K]
  hessian: Float64Array; // XᵀX / n [K, K]
  /** Channels that must share a scale: tie[k] is k's scale index (v → o under grouped-query attention). */
  tie?: Int32Array;
}

export interface AwqChoice {
  scale: Float32Array; // [K] s_k, already expanded through `tie`
  alpha: number;
  loss: number; // of the chosen α
  rtnLoss: number; // of α = 0 (plain round-to-nearest)
}

export async function searchAwqScale(g: AwqGroup, quant: QuantSpec, backend: CalibBackend): Promise<AwqChoice> {
  const { K } = g;
  const tie = g.tie ?? Int32Array.from({ length: K }, (_, k) => k);
  const width = Math.max(...tie) + 1;
  // Channels sharing a scale share their activation statistic too: the mean over them.
  const stat = new Float64Array(width);
  const count = new Float64Array(width);
  for (let k = 0; k < K; k++) {
    stat[tie[k]!]! += g.meanAbs[k]!;
    count[tie[k]!]! += 1;
  }
  for (let i = 0; i < width; i++) stat[i]! /= count[i]!;
  const h32 = Float32Array.from(g.hessian);

  let best: AwqChoice | null = null;
  let rtnLoss = 0;
  for (let step = 0; step < AWQ_GRID; step++) {
    const alpha = step / AWQ_GRID;
    const tied = new Float64Array(width);
    let hi = 0;
    let lo = Infinity;
    for (let i = 0; i < width; i++) {
      tied[i] = Math.max(Math.pow(stat[i]!, alpha), 1e-4);
      hi = Math.max(hi, tied[i]!);
      lo = Math.min(lo, tied[i]!);
    }
    const norm = Math.sqrt(hi * lo);
    const scale = Float32Array.from(tie, (i) => tied[i]! / norm);
    const loss = await groupLoss(g, scale, quant, h32, backend);
    if (step === 0) rtnLoss = loss;
    if (!best || loss < best.loss) best = { scale, alpha, loss, rtnLoss: 0 };
  }
  return { ...best!, rtnLoss };
}

/** Σ over the group's weights of Σ_n Δ_n H Δ_nᵀ. */
async function groupLoss(g: AwqGroup, scale: Float32Array, quant: QuantSpec, h32: Float32Array, backend: CalibBackend): Promise<number> {
  const { K } = g;
  let loss = 0;
  for (const [i, w] of g.toQuantize.entries()) {
    const N = g.rows[i]!;
    const scaled = scaleColumns(w, N, K, scale);
    const values = dequantizeCodes(rtnCodes(scaled, N, K, quant), N, K, quant.blockSize);
    const ref = g.reference[i]!;
    const delta = new Float32Array(N * K);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) delta[n * K + k] = values[n * K + k]! / scale[k]! - ref[n * K + k]!;
    }
    const dh = await backend.linear(delta, N, h32, K, K, null); // [N, K] = Δ H (H symmetric)
    for (let j = 0; j < N * K; j++) loss += delta[j]! * dh[j]!;
  }
  return loss;
}

/** W·diag(s) in f32: column k times s_k.  w: [N, K] */
export function scaleColumns(w: Float32Array, N: number, K: number, s: Float32Array): Float32Array {
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n * K + k] = Math.fround(w[n * K + k]! * s[k]!);
  return out;
}

/** diag(1/s)·W in f32: row n divided by s_n (the operation before the scaled layer).  w: [N, K] */
export function divideRows(w: Float32Array, N: number, K: number, s: Float32Array): Float32Array {
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n * K + k] = Math.fround(w[n * K + k]! / s[n]!);
  return out;
}

/** AWQ's clipping grid: the group's largest |w| times 1, 0.95, ..., 0.55. */
export const AWQ_CLIP_STEPS = 10;

/**
 * AWQ's weight clipping, after the scaling: in each row and quantization group, |w| is
 * clipped to the fraction of the group's largest |w| whose rounding error costs the group's
 * output least, Δ_g H_gg Δ_gᵀ (H's diagonal block: AWQ's reference measures the same group
 * output on sampled inputs). `scale` maps the scaled weights back (Δ = (Q(w') - w') / s).
 * AWQ skips q and k, whose errors reach the attention logits; the caller does too.
 *   w: [N, K] scaled weights -> clipped copy
 */
export function awqClip(w: Float32Array, N: number, K: number, scale: Float32Array, hessian: Float64Array, quant: QuantSpec): Float32Array {
  const g = quant.blockSize;
  const out = Float32Array.from(w);
  const cand = new Float32Array(g);
  const delta = new Float64Array(g);
  for (let n = 0; n < N; n++) {
    for (let k0 = 0; k0 < K; k0 += g) {
      const len = Math.min(g, K - k0);
      const row = w.subarray(n * K + k0, n * K + k0 + len);
      let amax = 0;
      for (let j = 0; j < len; j++) amax = Math.max(amax, Math.abs(row[j]!));
      if (amax === 0) continue;
      let best = Infinity;
      let bestF = 1;
      for (let step = 0; step < AWQ_CLIP_STEPS; step++) {
        const f = 1 - step / (2 * AWQ_CLIP_STEPS);
        const m = Math.fround(amax * f);
        for (let j = 0; j < len; j++) cand[j] = Math.min(Math.max(row[j]!, -m), m);
        const c = rtnCodes(cand.subarray(0, len), 1, len, { ...quant, blockSize: len });
        for (let j = 0; j < len; j++) {
          const q = Math.fround((c.codes[j]! - c.zeros[0]!) * c.scales[0]!);
          delta[j] = (q - row[j]!) / scale[k0 + j]!;
        }
        let loss = 0;
        for (let i = 0; i < len; i++) {
          let s = 0;
          for (let j = 0; j < len; j++) s += hessian[(k0 + i) * K + k0 + j]! * delta[j]!;
          loss += delta[i]! * s;
        }
        if (loss < best) {
          best = loss;
          bestF = f;
        }
      }
      if (bestF < 1) {
        const m = Math.fround(amax * bestF);
        for (let j = 0; j < len; j++) out[n * K + k0 + j] = Math.min(Math.max(row[j]!, -m), m);
      }
    }
  }
  return out;
}

import type { Activations } from './activations.ts';
import { quantStrides } from './activations.ts';
import type { EngineExports } from './engine-module.ts';
import { GEMM, TASK } from './task-layout.ts';
import type { TaskRunner } from './thread-pool.ts';
import type { EngineWeight } from './weight-layout.ts';

/** A weight with its kernel descriptor in the heap; a low-rank layer is its second factor with the first one. */
export interface PreparedWeight {
  ref: EngineWeight;
  desc: number;
  first?: PreparedWeight; // low-rank: x times this into acts.mid first, then times ref
}

export interface StepContext {
  exports: EngineExports;
  runner: TaskRunner;
  acts: Activations;
}

const sameForm = (a: EngineWeight, b: EngineWeight) =>
  a.kind === b.kind && a.K === b.K && (a.kind !== 'nbits' || (b.kind === 'nbits' && a.bits === b.bits && a.blockSize === b.blockSize));

/**
 * y_i = x W_i^T for up to three weights sharing the input x (f32 [T, K] at `x`) as one task
 * across the threads; with `silu`, outs[0] = silu(outs[0]) * outs[1] afterwards (gate, up).
 * NBits weights meet x quantized once per row block (acts.ts), on this thread, first.
 */
export function gemm(
  ctx: StepContext,
  weights: readonly PreparedWeight[],
  x: number,
  T: number,
  outs: readonly number[],
  silu = false,
): void {
  const first = weights[0]!.ref;
  if (weights.some((w) => w.first)) {
    // Low-rank layers: two products each, through acts.mid; SwiGLU after.
    weights.forEach((w, i) => {
      if (!w.first) return gemm(ctx, [w], x, T, [outs[i]!]);
      gemm(ctx, [w.first], x, T, [ctx.acts.mid]);
      gemm(ctx, [{ ref: w.ref, desc: w.desc }], ctx.acts.mid, T, [outs[i]!]);
    });
    if (silu) ctx.exports.siluMul(outs[0]!, outs[1]!, T, first.N, 0, first.N);
    return;
  }
  if (!weights.every((w) => sameForm(w.ref, first))) {
    // Different forms cannot share quantized inputs: one task each, SwiGLU after.
    weights.forEach((w, i) => gemm(ctx, [w], x, T, [outs[i]!]));
    if (silu) ctx.exports.siluMul(outs[0]!, outs[1]!, T, first.N, 0, first.N);
    return;
  }
  const a = ctx.acts;
  const args = new Array<number>(GEMM.w0 + 3 * weights.length).fill(0);
  args[GEMM.count] = weights.length;
  args[GEMM.silu] = silu ? 1 : 0;
  args[GEMM.M] = T;
  args[GEMM.x] = x;
  args[GEMM.ldx] = first.K;
  if (first.kind === 'nbits') {
    const { ldq, ldb } = quantStrides(first, a.actBytes);
    const tiles = T >= 4;
    ctx.exports.quantizeActs(
      x,
      0,
      T,
      first.K,
      first.K,
      first.bits,
      first.blockSize,
      Math.ceil(first.K / first.blockSize),
      a.xq,
      ldq,
      a.xs,
      a.xsum,
      ldb,
      tiles ? a.xs4 : 0,
      tiles ? a.xsum4 : 0,
      a.quantTmp,
    );
    args[GEMM.xq] = a.xq;
    args[GEMM.ldq] = ldq;
    args[GEMM.xs] = a.xs;
    args[GEMM.xsum] = a.xsum;
    args[GEMM.ldb] = ldb;
    args[GEMM.xs4] = tiles ? a.xs4 : 0;
    args[GEMM.xsum4] = tiles ? a.xsum4 : 0;
  }
  weights.forEach((w, i) => {
    args[GEMM.w0 + 3 * i] = w.desc;
    args[GEMM.w0 + 3 * i + 1] = outs[i]!;
    args[GEMM.w0 + 3 * i + 2] = w.ref.N;
  });
  ctx.runner.run(TASK.opGemm, args);
}

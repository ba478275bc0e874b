import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DAMPING } from '../../src/kernels/calib/cholesky.ts';
import { lowRankFactors, rankForPercent } from '../../src/kernels/lowrank/low-rank-factors.ts';
import { symmetricEigen } from '../../src/kernels/lowrank/symmetric-eigen.ts';
import { truncatedSvd } from '../../src/kernels/lowrank/truncated-svd.ts';
import { BUDGET } from '../error-budgets.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { pythonWithNumpy } from '../python-numpy.ts';
import { lcgRng } from '../seeded-random.ts';

/**
 * The low-rank kernels against numpy's SVD (test/independent/low_rank.py, LAPACK): singular
 * values and the best rank-r approximation of random matrices, wide and tall, plain and
 * whitened by a Gram matrix of correlated inputs (SVD-LLM), and the rank rule.
 */
const script = fileURLToPath(new URL('../independent/low_rank.py', import.meta.url));

async function numpy(w: ArrayLike<number>, n: number, k: number, rank: number, h: Float64Array | null) {
  const child = promisify(execFile)(await pythonWithNumpy(), [script], { maxBuffer: 1 << 28 });
  child.child.stdin!.end(JSON.stringify({ w: Array.from(w), n, k, rank, h: h ? Array.from(h) : null, damping: DEFAULT_DAMPING }));
  const { stdout } = await child;
  return JSON.parse(stdout) as { s: number[]; approx: number[] };
}

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const rnd = lcgRng(seed);
  // A decaying spectrum, as trained weights have: row scale times column scale times noise.
  return Float64Array.from({ length: rows * cols }, (_, i) => rnd() * (1 + 3 / (1 + (i % cols))));
}

/** XᵀX/T of T inputs whose channels are correlated and unequally active. */
function gram(K: number, T: number, seed: number): Float64Array {
  const rnd = lcgRng(seed);
  const h = new Float64Array(K * K);
  const x = new Float64Array(K);
  for (let t = 0; t < T; t++) {
    const common = rnd();
    for (let k = 0; k < K; k++) x[k] = (rnd() + common) * (k % 5 === 0 ? 8 : 1);
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) h[i * K + j]! += (x[i]! * x[j]!) / T;
  }
  return h;
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('truncated SVD (Gram matrix + symmetric eigen) against numpy', () => {
  it.each([
    [24, 40, 6],
    [40, 24, 9],
    [33, 33, 33],
  ])('%ix%i at rank %i: singular values and the rank-r approximation', async (n, k, rank) => {
    const m = randomMatrix(n, k, n * 100 + k);
    const ours = truncatedSvd(m, n, k, rank);
    const ref = await numpy(m, n, k, rank, null);
    expect(maxDiff(ours.s, ref.s.slice(0, rank))).toBeLessThan(BUDGET.lowRankSvdRelative * ref.s[0]!);
    const approx = new Float64Array(n * k);
    for (let r = 0; r < n; r++)
      for (let i = 0; i < rank; i++)
        for (let c = 0; c < k; c++) approx[r * k + c]! += ours.u[r * rank + i]! * ours.s[i]! * ours.vt[i * k + c]!;
    expect(maxDiff(approx, ref.approx)).toBeLessThan(BUDGET.lowRankSvdRelative * maxAbs(ref.approx));
  });

  it('a rank-deficient matrix gets zero singular values and zero vectors, not NaN', () => {
    const m = new Float64Array(6 * 8);
    for (let c = 0; c < 8; c++) m[c] = c + 1; // one non-zero row: rank 1
    const r = truncatedSvd(m, 6, 8, 3);
    expect(r.s[0]).toBeCloseTo(Math.sqrt(204), 10);
    expect([r.s[1], r.s[2]]).toEqual([0, 0]);
    expect(r.u.every(Number.isFinite) && r.vt.every(Number.isFinite)).toBe(true);
  });

  it('symmetric eigen of a diagonal matrix: its entries, ascending, with unit vectors', () => {
    const e = symmetricEigen(Float64Array.from([3, 0, 0, 0, -1, 0, 0, 0, 2]), 3);
    expect(Array.from(e.values)).toEqual([-1, 2, 3]);
    expect(Array.from(e.vectors).map(Math.abs)).toEqual([0, 1, 0, 0, 0, 1, 1, 0, 0]);
  });

  it('refuses a rank outside 1..min(rows, cols)', () => {
    const m = randomMatrix(4, 5, 1);
    expectShrinkrayError(() => truncatedSvd(m, 4, 5, 0), 'bad_argument', /rank 0 is outside 1\.\.4/);
    expectShrinkrayError(() => truncatedSvd(m, 4, 5, 5), 'bad_argument', /rank 5/);
  });
});

describe('low-rank factors (f32 A, B) against numpy', () => {
  it.each([
    ['plain', false],
    ['whitened by XᵀX (SVD-LLM)', true],
  ])('%s: B·A is the best rank-r approximation numpy computes', async (_what, whiten) => {
    const [N, K, rank] = [30, 20, 7];
    const w = Float32Array.from(randomMatrix(N, K, 7));
    const h = whiten ? gram(K, 200, 3) : null;
    const f = lowRankFactors(w, N, K, rank, h ? { hessian: h, damping: DEFAULT_DAMPING } : undefined);
    const ref = await numpy(w, N, K, rank, h);
    const product = new Float64Array(N * K);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < rank; i++) for (let k = 0; k < K; k++) product[n * K + k]! += f.b[n * rank + i]! * f.a[i * K + k]!;
    expect(maxDiff(product, ref.approx)).toBeLessThan(BUDGET.lowRankFactorsF32Relative * maxAbs(ref.approx));
  });

  it('whitening lowers the output error on the inputs it was measured on, and raises the weight error', () => {
    const [N, K, rank] = [30, 20, 5];
    const w = Float32Array.from(randomMatrix(N, K, 11));
    const h = gram(K, 400, 5);
    const errors = (f: { a: Float32Array; b: Float32Array }) => {
      const d = new Float64Array(N * K);
      for (let n = 0; n < N; n++)
        for (let k = 0; k < K; k++) {
          let p = 0;
          for (let i = 0; i < rank; i++) p += f.b[n * rank + i]! * f.a[i * K + k]!;
          d[n * K + k] = w[n * K + k]! - p;
        }
      let out = 0; // tr(ΔW H ΔWᵀ)
      for (let n = 0; n < N; n++)
        for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) out += d[n * K + i]! * h[i * K + j]! * d[n * K + j]!;
      return { weights: d.reduce((s, v) => s + v * v, 0), outputs: out };
    };
    const plain = errors(lowRankFactors(w, N, K, rank));
    const act = errors(lowRankFactors(w, N, K, rank, { hessian: h, damping: DEFAULT_DAMPING }));
    expect(act.outputs).toBeLessThan(plain.outputs);
    expect(act.weights).toBeGreaterThan(plain.weights);
  });

  it('rank rule: the largest r with r(N + K) <= P% of N·K', () => {
    for (const [N, K, p] of [
      [64, 64, 50],
      [172, 64, 60],
      [576, 1536, 37],
    ] as const) {
      const r = rankForPercent(N, K, p);
      expect(r * (N + K)).toBeLessThanOrEqual((p / 100) * N * K);
      expect((r + 1) * (N + K)).toBeGreaterThan((p / 100) * N * K);
    }
    expect(rankForPercent(64, 64, 1)).toBe(0);
  });
});

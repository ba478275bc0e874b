import { ShrinkrayError } from '../../errors.ts';
import { symmetricEigen } from './symmetric-eigen.ts';

/**
 * The leading `rank` singular triplets of M [rows, cols] in float64, through the Gram matrix
 * of its shorter side: M Mᵀ = U Σ² Uᵀ (or MᵀM = V Σ² Vᵀ), then the other side's vectors
 * as Mᵀuᵢ/σᵢ (Mvᵢ/σᵢ). Squaring costs precision only in the small singular values, about
 * ε·σ₁²/σᵢ, which truncation throws away; it halves the work of a one-sided Jacobi and
 * needs one eigen-solve of min(rows, cols)². A direction with σᵢ = 0 (rank-deficient M)
 * gets σᵢ = 0 and zero vectors, so U Σ Vᵀ is still the best rank-`rank` approximation.
 */
export interface TruncatedSvd {
  rank: number;
  u: Float64Array; // [rows, rank], column i is uᵢ
  s: Float64Array; // [rank], descending
  vt: Float64Array; // [rank, cols], row i is vᵢᵀ
}

export function truncatedSvd(m: Float64Array, rows: number, cols: number, rank: number): TruncatedSvd {
  if (m.length !== rows * cols) throw new ShrinkrayError('bad_argument', `truncatedSvd: expected ${rows}x${cols} values, got ${m.length}`);
  if (!(Number.isInteger(rank) && rank >= 1 && rank <= Math.min(rows, cols))) {
    throw new ShrinkrayError(
      'bad_argument',
      `truncatedSvd: rank ${rank} is outside 1..${Math.min(rows, cols)} for a ${rows}x${cols} matrix`,
    );
  }
  const wide = rows <= cols;
  const n = wide ? rows : cols;
  const gram = wide ? gramRows(m, rows, cols) : gramCols(m, rows, cols);
  const { values, vectors } = symmetricEigen(gram, n);
  const s = new Float64Array(rank);
  const u = new Float64Array(rows * rank);
  const vt = new Float64Array(rank * cols);
  const floor = Math.max(values[n - 1]!, 0) * n * 2 ** -52; // eigenvalues below this are rounding
  for (let i = 0; i < rank; i++) {
    const lambda = values[n - 1 - i]!;
    const vec = vectors.subarray((n - 1 - i) * n, (n - i) * n);
    if (!(lambda > floor)) continue; // σ = 0: zero vectors
    const sigma = Math.sqrt(lambda);
    s[i] = sigma;
    if (wide) {
      for (let r = 0; r < rows; r++) u[r * rank + i] = vec[r]!;
      // vᵢᵀ = uᵢᵀ M / σᵢ
      const out = vt.subarray(i * cols, (i + 1) * cols);
      for (let r = 0; r < rows; r++) {
        const a = vec[r]! / sigma;
        if (a === 0) continue;
        for (let c = 0; c < cols; c++) out[c]! += a * m[r * cols + c]!;
      }
    } else {
      vt.set(vec, i * cols);
      // uᵢ = M vᵢ / σᵢ
      for (let r = 0; r < rows; r++) {
        let acc = 0;
        for (let c = 0; c < cols; c++) acc += m[r * cols + c]! * vec[c]!;
        u[r * rank + i] = acc / sigma;
      }
    }
  }
  return { rank, u, s, vt };
}

/** M Mᵀ [rows, rows]. */
function gramRows(m: Float64Array, rows: number, cols: number): Float64Array {
  const g = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    const a = m.subarray(i * cols, (i + 1) * cols);
    for (let j = 0; j <= i; j++) {
      const b = m.subarray(j * cols, (j + 1) * cols);
      let acc = 0;
      for (let c = 0; c < cols; c++) acc += a[c]! * b[c]!;
      g[i * rows + j] = acc;
      g[j * rows + i] = acc;
    }
  }
  return g;
}

/** MᵀM [cols, cols], accumulated row by row of M (contiguous reads). */
function gramCols(m: Float64Array, rows: number, cols: number): Float64Array {
  const g = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r++) {
    const row = m.subarray(r * cols, (r + 1) * cols);
    for (let i = 0; i < cols; i++) {
      const a = row[i]!;
      if (a === 0) continue;
      const gi = i * cols;
      for (let j = 0; j <= i; j++) g[gi + j]! += a * row[j]!;
    }
  }
  for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) g[j * cols + i] = g[i * cols + j]!;
  return g;
}

/**
 * Structured pruning kernels: importance scores of whole FFN channels and KV groups, and the
 * row/column block selection that removes them. Pure numerics over typed arrays; which
 * channels a model's layer loses is planned in src/compress/structured-prune.ts.
 *
 * - FFN channel c = row c of gate_proj and up_proj plus column c of down_proj.
 *   Score: ||gate[c,:]||2 * ||up[c,:]||2 * ||down[:,c]||2. Why: the channel adds
 *   down[:,c] * silu(gate[c]·x) * (up[c]·x) to the output and |silu(z)| <= |z|, so its
 *   contribution is bounded by that product times ||x||^2.
 * - KV group g (grouped-query attention) = KV head g plus its numHeads/numKvHeads query
 *   heads h = g*r .. g*r+r-1 (HF repeat_kv / llama2.c `h / kv_mul`): rows of q/k/v (and
 *   their biases) and the matching columns of o_proj. Score: sqrt(||Q_g||F^2 + ||K_g||F^2 +
 *   ||V_g||F^2 + ||O_g||F^2), all the weight the group owns.
 * - Kept indices stay in ascending order; ties in score prune the lower index first.
 */

/** The attention shape kvGroupScores needs (a ModelConfig has these fields). */
export interface AttentionShape {
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number; // divides numHeads
  headDim: number;
}

function sumSquares(sum: Float64Array, i: number, w: Float32Array, start: number, end: number, stride = 1): void {
  let s = 0;
  for (let j = start; j < end; j += stride) s += w[j]! * w[j]!;
  sum[i] += s;
}

/**
 * FFN channel importance.
 * @param gate [ffn, dim]  @param up [ffn, dim]  @param down [dim, ffn]
 * @returns [ffn] ||gate row|| * ||up row|| * ||down column||
 */
export function ffnChannelScores(gate: Float32Array, up: Float32Array, down: Float32Array, dim: number, ffn: number): Float32Array {
  const g = new Float64Array(ffn),
    u = new Float64Array(ffn),
    d = new Float64Array(ffn);
  for (let c = 0; c < ffn; c++) {
    sumSquares(g, c, gate, c * dim, (c + 1) * dim);
    sumSquares(u, c, up, c * dim, (c + 1) * dim);
    sumSquares(d, c, down, c, dim * ffn, ffn);
  }
  const scores = new Float32Array(ffn);
  for (let c = 0; c < ffn; c++) scores[c] = Math.sqrt(g[c]! * u[c]! * d[c]!);
  return scores;
}

/**
 * KV group importance.
 * @param q [numHeads*headDim, dim]  @param k, v [numKvHeads*headDim, dim]  @param o [dim, numHeads*headDim]
 * @returns [numKvHeads] sqrt of the summed squares of the group's q/k/v rows and o columns
 */
export function kvGroupScores(q: Float32Array, k: Float32Array, v: Float32Array, o: Float32Array, shape: AttentionShape): Float32Array {
  const { hiddenSize: dim, numHeads, numKvHeads, headDim } = shape;
  const r = numHeads / numKvHeads;
  const qWidth = numHeads * headDim; // o_proj input size
  const sums = new Float64Array(numKvHeads);
  for (let g = 0; g < numKvHeads; g++) {
    sumSquares(sums, g, q, g * r * headDim * dim, (g + 1) * r * headDim * dim);
    sumSquares(sums, g, k, g * headDim * dim, (g + 1) * headDim * dim);
    sumSquares(sums, g, v, g * headDim * dim, (g + 1) * headDim * dim);
    const c0 = g * r * headDim,
      c1 = (g + 1) * r * headDim; // columns of o_proj
    for (let row = 0; row < dim; row++) sumSquares(sums, g, o, row * qWidth + c0, row * qWidth + c1);
  }
  return Float32Array.from(sums, Math.sqrt);
}

/** Rows of `w` [rows, cols] in blocks of `block` rows: block b of the output = block kept[b] of the input. */
export function selectRowBlocks(w: Float32Array, cols: number, kept: Int32Array, block: number): Float32Array {
  const span = block * cols;
  const out = new Float32Array(kept.length * span);
  for (let b = 0; b < kept.length; b++) out.set(w.subarray(kept[b]! * span, (kept[b]! + 1) * span), b * span);
  return out;
}

/** Columns of `w` [rows, cols] in blocks of `block` columns, as selectRowBlocks does for rows. */
export function selectColumnBlocks(w: Float32Array, rows: number, cols: number, kept: Int32Array, block: number): Float32Array {
  const outCols = kept.length * block;
  const out = new Float32Array(rows * outCols);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < kept.length; b++) {
      const src = r * cols + kept[b]! * block;
      out.set(w.subarray(src, src + block), r * outCols + b * block);
    }
  }
  return out;
}

/** Ascending indices of the query heads that belong to the kept KV groups. */
export function keptQueryHeads(keptGroups: Int32Array, headsPerGroup: number): Int32Array {
  const heads = new Int32Array(keptGroups.length * headsPerGroup);
  for (let i = 0; i < keptGroups.length; i++) {
    for (let j = 0; j < headsPerGroup; j++) heads[i * headsPerGroup + j] = keptGroups[i]! * headsPerGroup + j;
  }
  return heads;
}

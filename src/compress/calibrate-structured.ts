import type { ModelConfig } from '../model/config.ts';
import type { LayerWeights } from '../model/reference-weights.ts';
import type { StructuredScores } from './structured-prune.ts';

/**
 * Activation-aware scores for the structured steps: what each FFN channel and each KV group
 * adds to the residual stream over the calibration tokens, Σ_t ‖its output‖².
 * - FFN channel c adds down[:, c] · a_c(t) (a: the SwiGLU output): ‖down[:, c]‖² · Σ_t a_c².
 * - KV group g adds O_g · att_g(t) (its query heads' columns of o_proj times their attention
 *   output): tr(O_g G_g O_gᵀ), G_g the block of Σ attᵀatt over the group's columns.
 * The weight-norm scores (kernels/prune/structured.ts) bound the same quantity without
 * data and pick no better than chance on the fixture model (README, Recipes).
 */
export function activationScores(
  config: ModelConfig,
  w: LayerWeights,
  downSumSq: Float64Array, // Σ_t a_c² [ffn]
  oGram: Float64Array, // Σ_t attᵀatt [qDim, qDim]
): StructuredScores {
  const { hiddenSize: dim, intermediateSize: ffn, numHeads, numKvHeads, headDim } = config;
  const ffnScores = new Float32Array(ffn);
  for (let c = 0; c < ffn; c++) {
    let norm = 0;
    for (let r = 0; r < dim; r++) norm += w.down[r * ffn + c]! * w.down[r * ffn + c]!;
    ffnScores[c] = norm * downSumSq[c]!;
  }
  const qDim = numHeads * headDim;
  const width = (numHeads / numKvHeads) * headDim; // o_proj columns per group
  const groups = new Float32Array(numKvHeads);
  for (let g = 0; g < numKvHeads; g++) {
    const c0 = g * width;
    let s = 0;
    for (let r = 0; r < dim; r++) {
      const o = r * qDim + c0;
      for (let i = 0; i < width; i++) {
        let t = 0;
        for (let j = 0; j < width; j++) t += oGram[(c0 + i) * qDim + c0 + j]! * w.o[o + j]!;
        s += w.o[o + i]! * t;
      }
    }
    groups[g] = s;
  }
  return { ffn: ffnScores, groups };
}

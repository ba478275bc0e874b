/** What happened to one weight, for shrinkray.json and the per-layer error chart. */
export interface TensorOutcome {
  name: string;
  shape: number[]; // [out, in] after structured pruning
  kind: string; // 'fp32' | 'fp16' | 'int4-g32' | 'int8-g32-asym' ...
  bytes: number; // stored size
  sparsity: number; // fraction of zeros a mask introduced (0 without one)
  relError: number | null; // ||W - W_hat||_F / ||W||_F against the (structurally pruned) source; null: not measured
}

/**
 * Bits per stored weight code of a kind as the pipeline and the builder spell it: int4-g32 and
 * nbits4 -> 4, lowrank-r16+int8-g32 -> 8 (its factors' codes), fp16 -> 16, fp32 -> 32.
 */
export function kindBits(kind: string): number {
  const m = /(?:int|nbits)(\d+)/.exec(kind);
  if (m) return Number(m[1]);
  return kind.endsWith('fp16') ? 16 : 32;
}

/** What happened to one weight, for shrinkray.json and the per-layer error chart. */
export interface TensorOutcome {
  name: string;
  shape: number[]; // [out, in] after structured pruning
  kind: string; // 'fp32' | 'fp16' | 'int4-g32' | 'int8-g32-asym' ...
  bytes: number; // stored size
  sparsity: number; // fraction of zeros a mask introduced (0 without one)
  relError: number | null; // ||W - W_hat||_F / ||W||_F against the (structurally pruned) source; null: not measured
}

/**
 * The memory layouts the JS side shares with the kernels; the numbers must match
 * wasm/assembly/layout.ts (a test reads both files and compares them).
 */

/** The task block: i32 slots. */
export const TASK = Object.freeze({
  ticket: 0, // (generation << 20) | next part to claim (thread-pool.ts)
  done: 1, // parts finished
  op: 2,
  parts: 3, // parts the task is cut into
  failed: 4, // a helper that trapped writes its thread number here
  args: 8, // first argument slot
  blockBytes: 64 * 4,
  opExit: 0,
  opGemm: 1,
  opAttention: 2,
});

/** OP_GEMM argument slots (offsets from TASK.args). */
export const GEMM = Object.freeze({
  count: 0,
  silu: 1,
  M: 2,
  x: 3,
  ldx: 4,
  xq: 5,
  ldq: 6,
  xs: 7,
  xsum: 8,
  ldb: 9,
  xs4: 10,
  xsum4: 11,
  w0: 12,
});

/** OP_ATTENTION argument slots. */
export const ATTENTION = Object.freeze({
  q: 0,
  T: 1,
  start: 2,
  heads: 3,
  kvHeads: 4,
  hd: 5,
  keys: 6,
  values: 7,
  cap: 8,
  out: 9,
  scale: 10,
  scratch: 11,
  scratchStride: 12,
  window: 13, // sliding window in positions, 0 for none
});

/** A weight descriptor: 16 i32 slots. */
export const WEIGHT = Object.freeze({
  kind: 0,
  N: 1,
  K: 2,
  bits: 3,
  bs: 4,
  blocks: 5,
  data: 6,
  scales: 7,
  zp: 8,
  zpRow: 9,
  bias: 10,
  bytes: 16 * 4,
});

export const WEIGHT_KIND = Object.freeze({ nbits: 1, f32NK: 2, f32KN: 3, f16NK: 4, f16KN: 5 });

// @ts-nocheck -- AssemblyScript (compiled by scripts/build-wasm.ts), not TypeScript.
//
// Memory layouts shared with the JS side (src/engine/weight-layout.ts and
// src/engine/task-layout.ts hold the same numbers): a weight descriptor, and the task block
// through which the JS side hands work to every thread.

// Weight descriptor: 16 i32 slots.
export const W_KIND = 0; // WeightKind below
export const W_N = 1; // output features (rows of the stored [N, K] matrix)
export const W_K = 2; // input features
export const W_BITS = 3; // nbits: 2, 4 or 8
export const W_BS = 4; // nbits: block size along K (16..256)
export const W_BLOCKS = 5; // nbits: ceil(K / block size)
export const W_DATA = 6; // nbits: codes uint8 [N, blocks, bs*bits/8]; dense: f32/f16 values
export const W_SCALES = 7; // nbits: f32 [N, blocks]
export const W_ZP = 8; // nbits: packed zero points uint8 [N, zpRow], 0 = symmetric
export const W_ZPROW = 9; // nbits: bytes per row of packed zero points
export const W_BIAS = 10; // f32 [N] added to every output row, 0 = none

export const KIND_NBITS = 1;
export const KIND_F32_NK = 2; // [N, K]: one row per output (a tied embedding table)
export const KIND_F32_KN = 3; // [K, N]: one row per input (the builder's MatMul weights, W^T)
export const KIND_F16_NK = 4;
export const KIND_F16_KN = 5;

// Task block: i32 slots at the address given to setTaskBlock(). Threads claim the parts of a
// task from the ticket (src/engine/thread-pool.ts); runTask(part, parts) runs one.
export const T_TICKET = 0; // (generation << 20) | next part to claim
export const T_DONE = 1; // parts finished
export const T_OP = 2; // OP_* below
export const T_PARTS = 3; // parts the task is cut into
export const T_FAILED = 4; // a helper that trapped writes its thread number here (thread-pool.ts)
export const T_ARGS = 8; // first argument slot

export const OP_EXIT = 0;
export const OP_GEMM = 1;
export const OP_ATTENTION = 2;

// OP_GEMM arguments (slot offsets from T_ARGS).
export const G_COUNT = 0; // 1..3 weights sharing one input
export const G_SILU = 1; // 1: y0 = silu(y0) * y1 afterwards (gate and up)
export const G_M = 2; // tokens
export const G_X = 3; // f32 [M, ldx] input, for dense weights
export const G_LDX = 4;
export const G_XQ = 5; // quantized input, for nbits weights (see acts.ts)
export const G_LDQ = 6;
export const G_XS = 7;
export const G_XSUM = 8;
export const G_LDB = 9;
export const G_XS4 = 10;
export const G_XSUM4 = 11;
export const G_W0 = 12; // per weight i: descriptor at G_W0 + 3i, output at +1, its row stride at +2

// OP_ATTENTION arguments.
export const A_Q = 0; // f32 [T, heads*hd], rotated
export const A_T = 1;
export const A_START = 2; // cached positions before the first new one
export const A_HEADS = 3;
export const A_KV_HEADS = 4;
export const A_HD = 5;
export const A_KEYS = 6; // f32 [kvHeads, cap, hd]
export const A_VALUES = 7;
export const A_CAP = 8;
export const A_OUT = 9; // f32 [T, heads*hd]
export const A_SCALE = 10; // f32 bits
export const A_SCRATCH = 11; // f32 [parts, scratchStride]
export const A_SCRATCH_STRIDE = 12; // floats per thread (>= start + T)
export const A_WINDOW = 13; // sliding window in positions, 0 for none

@inline export function slot(base: usize, i: i32): i32 {
  return load<i32>(base + (<usize>i << 2));
}

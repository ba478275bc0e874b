// @ts-nocheck -- AssemblyScript (compiled by scripts/build-wasm.ts), not TypeScript.
//
// How work is shared between threads: the main thread writes a task into the task block
// (layout.ts) and cuts it into parts; every thread (src/engine/thread-pool.ts) claims parts
// and runs each through runTask(part, parts), which computes that part's rows (or attention
// pairs) from the arguments. A row is always computed whole by one thread, so the numbers do
// not depend on how many threads there are. (The claiming and parking loops are JavaScript:
// the same loop in wasm, around memory.atomic.wait32, lost a local once Node 20's optimizing
// tier compiled it.)
import {
  T_OP, T_ARGS, OP_GEMM, OP_ATTENTION,
  G_COUNT, G_SILU, G_M, G_X, G_LDX, G_XQ, G_LDQ, G_XS, G_XSUM, G_LDB, G_XS4, G_XSUM4, G_W0,
  A_Q, A_T, A_START, A_HEADS, A_KV_HEADS, A_HD, A_KEYS, A_VALUES, A_CAP, A_OUT, A_SCALE, A_SCRATCH, A_SCRATCH_STRIDE, A_WINDOW,
  W_KIND, W_N, KIND_NBITS, KIND_F32_KN, KIND_F16_KN, slot,
} from './layout';
import { nbitsGemm } from './nbits';
import { denseGemm } from './dense';
import { attention } from './attention';
import { siluMul } from './elementwise';

let block: usize = 0;

export function setTaskBlock(p: usize): void {
  block = p;
}

/** [start, end) of `total` items for part `part` of `parts`, in multiples of `align`. */
@inline function share(total: i32, align: i32, part: i32, parts: i32): i64 {
  const units = (total + align - 1) / align;
  const a = min(total, (units * part / parts) * align);
  const b = min(total, (units * (part + 1) / parts) * align);
  return (<i64>a << 32) | <i64>b;
}

function gemmTask(a: usize, part: i32, parts: i32): void {
  const count = slot(a, G_COUNT);
  const M = slot(a, G_M);
  for (let i = 0; i < count; i++) {
    const wd = <usize>slot(a, G_W0 + 3 * i);
    const y = <usize>slot(a, G_W0 + 3 * i + 1);
    const ldy = slot(a, G_W0 + 3 * i + 2);
    const kind = slot(wd, W_KIND);
    // KN tiles are 16 columns wide; keep each thread's share whole tiles.
    const r = share(slot(wd, W_N), kind == KIND_F32_KN || kind == KIND_F16_KN ? 16 : 4, part, parts);
    const n0 = <i32>(r >> 32), n1 = <i32>r;
    if (n0 >= n1) continue;
    if (kind == KIND_NBITS) {
      nbitsGemm(wd, M, <usize>slot(a, G_XQ), slot(a, G_LDQ), <usize>slot(a, G_XS), <usize>slot(a, G_XSUM), slot(a, G_LDB),
        <usize>slot(a, G_XS4), <usize>slot(a, G_XSUM4), y, ldy, n0, n1);
    } else {
      denseGemm(wd, M, <usize>slot(a, G_X), slot(a, G_LDX), y, ldy, n0, n1);
    }
  }
  if (slot(a, G_SILU) != 0) {
    const wd = <usize>slot(a, G_W0);
    const kind = slot(wd, W_KIND);
    const r = share(slot(wd, W_N), kind == KIND_F32_KN || kind == KIND_F16_KN ? 16 : 4, part, parts);
    siluMul(<usize>slot(a, G_W0 + 1), <usize>slot(a, G_W0 + 4), M, slot(a, G_W0 + 2), <i32>(r >> 32), <i32>r);
  }
}

function attentionTask(a: usize, part: i32, parts: i32): void {
  const T = slot(a, A_T);
  const heads = slot(a, A_HEADS);
  const r = share(T * heads, 1, part, parts);
  // Scratch per part: a part runs on one thread at a time.
  const scratch = <usize>slot(a, A_SCRATCH) + (<usize>part * <usize>slot(a, A_SCRATCH_STRIDE) << 2);
  attention(<usize>slot(a, A_Q), T, slot(a, A_START), heads, slot(a, A_KV_HEADS), slot(a, A_HD), <usize>slot(a, A_KEYS),
    <usize>slot(a, A_VALUES), slot(a, A_CAP), <usize>slot(a, A_OUT), reinterpret<f32>(slot(a, A_SCALE)), scratch, <i32>(r >> 32), <i32>r,
    slot(a, A_WINDOW));
}

/** Runs part `part` of `parts` of the task in the block. */
export function runTask(part: i32, parts: i32): void {
  const op = slot(block, T_OP);
  const a = block + (<usize>T_ARGS << 2);
  if (op == OP_GEMM) gemmTask(a, part, parts);
  else if (op == OP_ATTENTION) attentionTask(a, part, parts);
}

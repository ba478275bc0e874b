// @ts-nocheck -- AssemblyScript (compiled to WASM SIMD by asc), not TypeScript.
//
// Pruning masks, the same rules as src/kernels/prune/rank-select.ts and n-m.ts: exactly
// `count` lowest scores pruned per scope, ties pruned lower index first. Memory is managed
// by the JS loader (../prune-wasm.ts), which places the buffers above heapBase().

export function heapBase(): usize {
  return __heap_base;
}

// keys[i] = order-preserving u32 of scores[i] (|scores[i]| when abs != 0): flip all bits of
// negatives, set the sign bit of non-negatives; -0 becomes +0 first. keys may alias scores.
// Returns the index of the first NaN, or -1.
export function fillKeys(scores: usize, keys: usize, len: i32, abs: i32): i32 {
  const absMask = i32x4.splat(abs != 0 ? 0x7fffffff : <i32>0xffffffff);
  const sign = i32x4.splat(<i32>0x80000000);
  const zero = f32x4.splat(0);
  let nan = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const p = (<usize>i) << 2;
    let v = v128.and(v128.load(scores + p), absMask);
    nan = v128.or(nan, f32x4.ne(v, v));
    v = f32x4.add(v, zero); // -0 + 0 = +0
    v128.store(keys + p, v128.xor(v, v128.or(i32x4.shr_s(v, 31), sign)));
  }
  let firstNan = -1;
  if (v128.any_true(nan)) {
    for (let j = 0; j < i; j++) {
      // keys were written already; re-read is not possible when aliased, so test the key:
      // a NaN key is > 0xff800000 (positive NaN) or < 0x007fffff (negative NaN)
      const k = load<u32>(keys + ((<usize>j) << 2));
      if (k > 0xff800000 || k < 0x007fffff) {
        firstNan = j;
        break;
      }
    }
  }
  for (; i < len; i++) {
    const p = (<usize>i) << 2;
    let b = load<u32>(scores + p);
    if (abs != 0) b &= 0x7fffffff;
    if ((b & 0x7fffffff) > 0x7f800000 && firstNan < 0) firstNan = i;
    if (b == 0x80000000) b = 0;
    store<u32>(keys + p, (b & 0x80000000) != 0 ? ~b : b | 0x80000000);
  }
  return firstNan;
}

// mask[i] = 0 for the `count` lowest of keys[0..len) (ties: lower index first), else 1.
// hist: scratch of 256 u32.
export function maskLowest(keys: usize, len: i32, count: i32, mask: usize, hist: usize): void {
  if (count <= 0) {
    memory.fill(mask, 1, <usize>len);
    return;
  }
  if (count >= len) {
    memory.fill(mask, 0, <usize>len);
    return;
  }
  // Radix select of the key of rank count-1, 8 bits at a time from the top.
  let prefix: u32 = 0;
  let decided: u32 = 0;
  let rank: u32 = <u32>(count - 1);
  for (let shift = 24; shift >= 0; shift -= 8) {
    memory.fill(hist, 0, 1024);
    for (let i = 0; i < len; i++) {
      const key = load<u32>(keys + ((<usize>i) << 2));
      if ((key & decided) == prefix) {
        const h = hist + ((<usize>((key >>> shift) & 255)) << 2);
        store<u32>(h, load<u32>(h) + 1);
      }
    }
    let bucket: u32 = 0;
    while (rank >= load<u32>(hist + ((<usize>bucket) << 2))) {
      rank -= load<u32>(hist + ((<usize>bucket) << 2));
      bucket++;
    }
    prefix |= bucket << shift;
    decided |= (<u32>255) << shift;
  }
  const threshold = prefix;
  // How many are strictly below: SIMD unsigned compare, lanes are 0 or -1.
  const vt = i32x4.splat(<i32>threshold);
  let vbelow = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= len; i += 4) vbelow = i32x4.sub(vbelow, i32x4.lt_u(v128.load(keys + ((<usize>i) << 2)), vt));
  let below = i32x4.extract_lane(vbelow, 0) + i32x4.extract_lane(vbelow, 1) + i32x4.extract_lane(vbelow, 2) + i32x4.extract_lane(vbelow, 3);
  for (; i < len; i++) if (load<u32>(keys + ((<usize>i) << 2)) < threshold) below++;
  let quota = count - below; // keys equal to the threshold that are pruned, lowest index first
  for (let j = 0; j < len; j++) {
    const key = load<u32>(keys + ((<usize>j) << 2));
    let keep: u8 = 1;
    if (key < threshold) keep = 0;
    else if (key == threshold && quota > 0) {
      keep = 0;
      quota--;
    }
    store<u8>(mask + <usize>j, keep);
  }
}

// Row by row: keys in place over scores, then the mask of each row. Returns the first NaN
// index (relative to scores) or -1, in which case the masks are incomplete.
export function maskRows(scores: usize, rows: i32, K: i32, count: i32, abs: i32, mask: usize, hist: usize): i32 {
  for (let r = 0; r < rows; r++) {
    const row = scores + ((<usize>r * <usize>K) << 2);
    const bad = fillKeys(row, row, K, abs);
    if (bad >= 0) return r * K + bad;
    maskLowest(row, K, count, mask + <usize>r * <usize>K, hist);
  }
  return -1;
}

// N:M: in every aligned group of m, the m - n lowest (ties: lower index first) are pruned.
// Returns the first NaN index or -1.
export function maskNm(scores: usize, total: i32, n: i32, m: i32, abs: i32, mask: usize): i32 {
  const prune = m - n;
  for (let g = 0; g < total; g += m) {
    const base = scores + ((<usize>g) << 2);
    for (let j = 0; j < m; j++) {
      let s = load<f32>(base + ((<usize>j) << 2));
      if (abs != 0) s = Mathf.abs(s);
      if (s != s) return g + j;
      let rank = 0;
      for (let i = 0; i < m; i++) {
        let t = load<f32>(base + ((<usize>i) << 2));
        if (abs != 0) t = Mathf.abs(t);
        if (t < s || (t == s && i < j)) rank++;
      }
      store<u8>(mask + <usize>(g + j), rank < prune ? 0 : 1);
    }
  }
  return -1;
}

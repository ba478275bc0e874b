/**
 * WGSL for the pruning masks, the same rules as rank-select.ts and n-m.ts. Scores arrive as
 * raw f32 bits (array<u32>) and are only ever compared as order-preserving integer keys, so
 * no float operation (and no flush-to-zero or NaN quirk of a GPU) can change a mask: the
 * results equal the TypeScript kernels bit for bit. Masks are written one u32 per weight.
 */

const KEY_FN = /* wgsl */ `
fn keyAt(i: u32) -> u32 {
  var b = scores[i];
  if (params.absolute != 0u) { b = b & 0x7fffffffu; }
  if (b == 0x80000000u) { b = 0u; } // -0 is +0
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}`;

/**
 * One workgroup per scope (a row, or the whole tensor as one row): radix select of the key of
 * rank count-1 (4 passes of 8 bits, shared histogram), then each invocation walks its own
 * contiguous slice, pruning keys below the threshold and the first `quota` keys equal to it
 * in index order (an exclusive scan of the per-slice equal counts gives each slice its start).
 */
export const ROW_SELECT_WGSL = /* wgsl */ `
struct Params { rows: u32, width: u32, count: u32, absolute: u32, groupsX: u32 }
@group(0) @binding(0) var<storage, read> scores: array<u32>;      // [rows, width] f32 bits
@group(0) @binding(1) var<storage, read_write> mask: array<u32>;  // [rows, width] 1 = keep
@group(0) @binding(2) var<uniform> params: Params;

const WG: u32 = 256u;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> chosen: vec2<u32>; // (bucket, rank within it) of the current pass
var<workgroup> belowTotal: atomic<u32>;
var<workgroup> equalBefore: array<u32, 256>;
${KEY_FN}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.groupsX + wid.x;
  if (row >= params.rows) { return; }
  let n = params.width;
  let base = row * n;
  let count = params.count;
  if (count == 0u || count >= n) {
    let value = select(0u, 1u, count == 0u);
    for (var i = lid; i < n; i += WG) { mask[base + i] = value; }
    return;
  }
  var prefix = 0u;
  var decided = 0u;
  var rank = count - 1u;
  for (var digit = 0u; digit < 4u; digit++) {
    let shift = 24u - 8u * digit;
    atomicStore(&hist[lid], 0u);
    workgroupBarrier();
    for (var i = lid; i < n; i += WG) {
      let k = keyAt(base + i);
      if ((k & decided) == prefix) { atomicAdd(&hist[(k >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var b = 0u;
      var r = rank;
      loop {
        let h = atomicLoad(&hist[b]);
        if (r < h || b == 255u) { break; }
        r -= h;
        b++;
      }
      chosen = vec2<u32>(b, r);
    }
    workgroupBarrier();
    let c = chosen;
    prefix = prefix | (c.x << shift);
    rank = c.y;
    decided = decided | (255u << shift);
    workgroupBarrier();
  }
  let threshold = prefix;

  let chunk = (n + WG - 1u) / WG;
  let start = min(lid * chunk, n);
  let end = min(start + chunk, n);
  var below = 0u;
  var equal = 0u;
  for (var i = start; i < end; i++) {
    let k = keyAt(base + i);
    if (k < threshold) { below++; } else if (k == threshold) { equal++; }
  }
  equalBefore[lid] = equal;
  atomicAdd(&belowTotal, below);
  workgroupBarrier();
  if (lid == 0u) {
    var sum = 0u;
    for (var t = 0u; t < WG; t++) {
      let e = equalBefore[t];
      equalBefore[t] = sum;
      sum += e;
    }
  }
  workgroupBarrier();
  let quota = count - atomicLoad(&belowTotal);
  var seen = equalBefore[lid];
  for (var i = start; i < end; i++) {
    let k = keyAt(base + i);
    var keep = 1u;
    if (k < threshold) {
      keep = 0u;
    } else if (k == threshold) {
      if (seen < quota) { keep = 0u; }
      seen++;
    }
    mask[base + i] = keep;
  }
}`;

/** One invocation per N:M group: rank each member by (key, index), prune ranks < m - n. */
export const NM_WGSL = /* wgsl */ `
struct Params { groups: u32, n: u32, m: u32, absolute: u32, groupsX: u32 }
@group(0) @binding(0) var<storage, read> scores: array<u32>;      // [groups, m] f32 bits
@group(0) @binding(1) var<storage, read_write> mask: array<u32>;  // [groups, m] 1 = keep
@group(0) @binding(2) var<uniform> params: Params;
${KEY_FN}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = (wid.y * params.groupsX + wid.x) * 64u + lid;
  if (group >= params.groups) { return; }
  let base = group * params.m;
  let prune = params.m - params.n;
  for (var j = 0u; j < params.m; j++) {
    let s = keyAt(base + j);
    var rank = 0u;
    for (var i = 0u; i < params.m; i++) {
      let t = keyAt(base + i);
      if (t < s || (t == s && i < j)) { rank++; }
    }
    mask[base + j] = select(1u, 0u, rank < prune);
  }
}`;

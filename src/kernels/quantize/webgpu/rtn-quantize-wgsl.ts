/**
 * WGSL for RTN block quantization into the MatMulNBits layout, one workgroup per
 * (row, block). GPUs may flush f32 subnormals and WGSL allows 2.5 ulp for `/`, so the
 * shader does no float arithmetic at all: weights are read as u32 bit patterns and the
 * reference's f32 steps (hi + |lo|, range / divisor, w / scale, round half to even, f16
 * rounding) are emulated exactly in integer arithmetic. The output is then bit-identical
 * to src/kernels/quantize/rtn-reference.ts, subnormals included.
 */
export const RTN_WORKGROUP_SIZE = 64;

export const rtnQuantizeWgsl = /* wgsl */ `
struct Params {
  rows: u32,       // rows in this dispatch
  K: u32,
  kBlocks: u32,
  bits: u32,       // 2, 4 or 8: a code never straddles a u32 word
  blockSize: u32,
  symmetric: u32,
  f16: u32,        // 1: scales are f16 bit patterns
  blob: u32,       // bytes of one block's codes
  zpRow: u32,      // bytes of one row of zero points
  nx: u32,         // workgroups along x (the grid is 2-D past 65535 blocks)
  _pad0: u32,
  _pad1: u32,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;                     // [rows, K] f32 bit patterns
@group(0) @binding(2) var<storage, read_write> packed: array<atomic<u32>>;  // [rows, kBlocks, blob] bytes, zeroed
@group(0) @binding(3) var<storage, read_write> scales: array<atomic<u32>>;  // [rows, kBlocks] f32 or f16, zeroed
@group(0) @binding(4) var<storage, read_write> zps: array<atomic<u32>>;     // [rows, zpRow] bytes, zeroed
@group(0) @binding(5) var<storage, read_write> status: array<atomic<u32>>;  // [1] first bad block, or 0xffffffff

var<workgroup> wgPos: atomic<u32>;  // max |w| over w >= 0, as bits (u32 order = magnitude order)
var<workgroup> wgNeg: atomic<u32>;  // max |w| over w < 0
var<workgroup> wgBad: atomic<u32>;  // a NaN or Infinity was seen
var<workgroup> wgScale: u32;        // f32 bits of the scale the codes use
var<workgroup> wgZero: u32;
var<workgroup> wgSkip: u32;

// Normalizes a non-negative finite f32 to (mantissa with leading 1 at bit 23, unbiased-ish exponent).
fn norm(x: u32) -> vec2<i32> {
  let e = i32(x >> 23u);
  let m = x & 0x7fffffu;
  if (e == 0) {
    let s = countLeadingZeros(m) - 8u;
    return vec2<i32>(i32(m << s), 1 - i32(s));
  }
  return vec2<i32>(i32(m | 0x800000u), e);
}

// a / b rounded to nearest even, for a >= 0, b > 0, both finite.
fn divRN(a: u32, b: u32) -> u32 {
  if (a == 0u) { return 0u; }
  let na = norm(a);
  let nb = norm(b);
  let mb = u32(nb.x);
  var r = u32(na.x);
  var e = na.y - nb.y + 127;
  if (r < mb) { r = r << 1u; e = e - 1; }
  var q = 0u; // 24 quotient bits and a guard bit
  for (var i = 0u; i < 25u; i = i + 1u) {
    q = q << 1u;
    if (r >= mb) { r = r - mb; q = q | 1u; }
    r = r << 1u;
  }
  if (e >= 255) { return 0x7f800000u; }
  var s = 1u;
  if (e < 1) { s = u32(2 - e); } // subnormal result
  if (s > 26u) { return 0u; }
  var m = q >> s;
  let rem = q & ((1u << s) - 1u);
  let half = 1u << (s - 1u);
  if (rem > half || (rem == half && (r != 0u || (m & 1u) == 1u))) { m = m + 1u; }
  return (u32(max(e, 1) - 1) << 23u) + m; // a carry out of the mantissa bumps the exponent
}

// a + b rounded to nearest even, for a, b >= 0 finite.
fn addRN(x: u32, y: u32) -> u32 {
  let a = max(x, y);
  let b = min(x, y);
  if (b == 0u) { return a; }
  let ea = max(a >> 23u, 1u);
  let eb = max(b >> 23u, 1u);
  var ma = (a & 0x7fffffu) << 3u;
  var mb = (b & 0x7fffffu) << 3u;
  if ((a >> 23u) != 0u) { ma = ma | 0x4000000u; }
  if ((b >> 23u) != 0u) { mb = mb | 0x4000000u; }
  let d = ea - eb;
  if (d >= 27u) {
    mb = select(0u, 1u, mb != 0u);
  } else if (d > 0u) {
    mb = (mb >> d) | select(0u, 1u, (mb & ((1u << d) - 1u)) != 0u);
  }
  var sum = ma + mb;
  var e = ea;
  if (sum >= 0x8000000u) { sum = (sum >> 1u) | (sum & 1u); e = e + 1u; }
  if (e >= 255u) { return 0x7f800000u; }
  var m = sum >> 3u;
  let rem = sum & 7u;
  if (rem > 4u || (rem == 4u && (m & 1u) == 1u)) { m = m + 1u; }
  return ((e - 1u) << 23u) + m;
}

// Round half to even of a non-negative f32, as an integer (huge values saturate at 2^20).
fn rneInt(x: u32) -> u32 {
  let e = x >> 23u;
  if (e < 126u) { return 0u; }
  if (e >= 150u) { return 0x100000u; }
  let m = (x & 0x7fffffu) | 0x800000u;
  let s = 150u - e;
  var q = m >> s;
  let rem = m & ((1u << s) - 1u);
  let half = 1u << (s - 1u);
  if (rem > half || (rem == half && (q & 1u) == 1u)) { q = q + 1u; }
  return q;
}

// Non-negative f32 -> f16 bits, round to nearest even (port of scale-f16.ts).
fn f32ToF16(x: u32) -> u32 {
  let e = i32((x >> 23u) & 0xffu);
  let m = x & 0x7fffffu;
  if (e == 255) { return 0x7c00u; }
  let ex = e - 112;
  if (ex >= 31) { return 0x7c00u; }
  if (ex <= 0) {
    if (ex < -10) { return 0u; }
    let mm = m | 0x800000u;
    let s = u32(14 - ex);
    let half = 1u << (s - 1u);
    let rem = mm & ((1u << s) - 1u);
    var q = mm >> s;
    if (rem > half || (rem == half && (q & 1u) == 1u)) { q = q + 1u; }
    return q;
  }
  var q = (u32(ex) << 10u) | (m >> 13u);
  let rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (q & 1u) == 1u)) { q = q + 1u; }
  return q;
}

fn f16ToF32(h: u32) -> u32 {
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) {
    if (m == 0u) { return 0u; }
    let top = 31u - countLeadingZeros(m);
    return ((top + 103u) << 23u) | ((m << (23u - top)) & 0x7fffffu);
  }
  return ((e + 112u) << 23u) | (m << 13u);
}

fn orBits(bit: u32, code: u32) {
  atomicOr(&packed[bit >> 5u], code << (bit & 31u));
}

@compute @workgroup_size(${RTN_WORKGROUP_SIZE})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let idx = wid.y * p.nx + wid.x; // block index row * kBlocks + block
  if (idx >= p.rows * p.kBlocks) { return; }
  let n = idx / p.kBlocks;
  let b = idx % p.kBlocks;
  let start = n * p.K + b * p.blockSize;
  let len = min(p.blockSize, p.K - b * p.blockSize);
  let codeMax = (1u << p.bits) - 1u;
  let mid = 1u << (p.bits - 1u);

  if (t == 0u) {
    atomicStore(&wgPos, 0u);
    atomicStore(&wgNeg, 0u);
    atomicStore(&wgBad, 0u);
  }
  workgroupBarrier();
  var pos = 0u;
  var neg = 0u;
  var bad = 0u;
  for (var j = t; j < len; j = j + ${RTN_WORKGROUP_SIZE}u) {
    let x = w[start + j];
    let a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) { bad = 1u; }
    if ((x >> 31u) == 0u) { pos = max(pos, a); } else { neg = max(neg, a); }
  }
  atomicMax(&wgPos, pos);
  atomicMax(&wgNeg, neg);
  atomicOr(&wgBad, bad);
  workgroupBarrier();

  if (t == 0u) {
    let hi = atomicLoad(&wgPos);
    let nlo = atomicLoad(&wgNeg); // -lo
    var failed = atomicLoad(&wgBad) != 0u;
    var range = max(hi, nlo);
    var divisor = mid - 1u;
    if (p.symmetric == 0u) {
      range = addRN(hi, nlo);
      divisor = codeMax;
      if (range >= 0x7f800000u) { failed = true; }
    }
    var scale = 0u;
    if (!failed) { scale = divRN(range, bitcast<u32>(f32(divisor))); }
    if (p.f16 == 1u) {
      let h = f32ToF16(scale);
      if (h >= 0x7c00u) { failed = true; }
      atomicOr(&scales[idx >> 1u], h << ((idx & 1u) * 16u));
      scale = f16ToF32(h);
    } else {
      atomicStore(&scales[idx], scale);
    }
    var zero = mid;
    if (p.symmetric == 0u) {
      zero = 0u;
      if (scale != 0u && !failed) { zero = min(rneInt(divRN(nlo, scale)), codeMax); }
      let zbit = n * p.zpRow * 8u + b * p.bits;
      atomicOr(&zps[zbit >> 5u], zero << (zbit & 31u));
    }
    if (failed) { atomicMin(&status[0], idx); }
    wgScale = scale;
    wgZero = zero;
    wgSkip = select(0u, 1u, failed);
  }
  workgroupBarrier();

  let scale = wgScale;
  let zero = wgZero;
  if (wgSkip == 1u) { return; }
  let base = idx * p.blob * 8u;
  for (var j = t; j < p.blockSize; j = j + ${RTN_WORKGROUP_SIZE}u) {
    var code = zero;
    if (j < len && scale != 0u) {
      let x = w[start + j];
      let q = i32(rneInt(divRN(x & 0x7fffffffu, scale)));
      let v = select(q, -q, (x >> 31u) == 1u) + i32(zero);
      code = u32(clamp(v, 0, i32(codeMax)));
    }
    orBits(base + j * p.bits, code);
  }
}
`;

/**
 * IEEE binary16 conversion of quantization scales, done on the f32 bit pattern with
 * integer operations only. The WASM and WGSL kernels port this exact algorithm, so an
 * f16 scale is the same bit pattern whichever implementation produced it (round to
 * nearest, ties to even; overflow gives Infinity, which the quantizer refuses).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 value -> f16 bit pattern, round to nearest even. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  const m = x & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m !== 0 ? 0x200 : 0); // Infinity or NaN
  const exp = e - 127 + 15;
  if (exp >= 31) return sign | 0x7c00; // too large: Infinity
  if (exp <= 0) {
    // f16 subnormal: value = mant * 2^-24
    if (exp < -10) return sign; // below half the smallest subnormal: zero
    const mm = m | 0x800000;
    const shift = 14 - exp; // 14..24
    const half = 1 << (shift - 1);
    const rem = mm & ((1 << shift) - 1);
    let q = mm >>> shift;
    if (rem > half || (rem === half && (q & 1) === 1)) q++;
    return sign | q;
  }
  let q = (exp << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (q & 1) === 1)) q++; // a carry may reach Infinity, correctly
  return sign | q;
}

/** f16 bit pattern -> f32 value (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

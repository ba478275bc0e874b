import { describe, expect, it } from 'vitest';
import { dequantizeNBits } from '../../src/kernels/quantize/dequantize.ts';
import { packRows, unpackCodes, unpackRows, unpackZeroPoints } from '../../src/kernels/quantize/matmul-nbits-layout.ts';
import { relativeFrobeniusError } from '../../src/kernels/quantize/quantize-error.ts';
import type { RtnOptions } from '../../src/kernels/quantize/rtn-options.ts';
import { quantizeRtnReference, roundHalfEven } from '../../src/kernels/quantize/rtn-reference.ts';
import { floatToHalf, halfToFloat } from '../../src/kernels/half.ts';
import { lcgRng } from '../seeded-random.ts';
import { BUDGET } from '../error-budgets.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

const sym = (bits: number, blockSize = 16): RtnOptions => ({ bits, blockSize, symmetric: true, scaleDtype: 'f32' });
const asym = (bits: number, blockSize = 16): RtnOptions => ({ bits, blockSize, symmetric: false, scaleDtype: 'f32' });
const block16 = (head: number[]) => Float32Array.from({ length: 16 }, (_, i) => head[i] ?? 0);

function codesOf(w: Float32Array, N: number, K: number, o: RtnOptions) {
  const q = quantizeRtnReference(w, N, K, o);
  const kBlocks = Math.ceil(K / o.blockSize);
  return { q, codes: Array.from(unpackCodes(q.packed, N, kBlocks, o.blockSize, o.bits)) };
}

describe('round half to even', () => {
  it('rounds ties to the even neighbour, in both signs', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });
});

describe('f16 scale conversion', () => {
  it('rounds to nearest even, including subnormals and overflow', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00); // the tie above the largest f16 rounds to Infinity
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(floatToHalf(2 ** -24)).toBe(1);
    expect(floatToHalf(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal
    expect(floatToHalf(3 * 2 ** -25)).toBe(2);
    expect(floatToHalf(-2)).toBe(0xc000);
    for (const h of [0, 1, 0x3ff, 0x400, 0x3c00, 0x3555, 0x7bff]) expect(floatToHalf(halfToFloat(h))).toBe(h);
  });
});

describe('MatMulNBits bit packing', () => {
  it('packs 4-bit codes low nibble first and 2-bit codes four per byte from the low end', () => {
    expect(Array.from(packRows(Uint8Array.from([1, 2, 3, 15]), 1, 4, 4))).toEqual([0x21, 0xf3]);
    expect(Array.from(packRows(Uint8Array.from([1, 2, 3, 0, 3]), 1, 5, 2))).toEqual([0b00111001, 0b11]);
  });
  it('packs 3-bit codes as one low-first bit stream across bytes', () => {
    // bits: 001 010 011 100 101 110 111 000 -> read low-first
    expect(Array.from(packRows(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 0]), 1, 8, 3))).toEqual([0b11010001, 0b01011000, 0b00011111]);
  });
  it('round-trips every width 2..8 with rows padded to whole bytes', () => {
    for (let bits = 2; bits <= 8; bits++) {
      const rows = 3;
      const cols = 13;
      const codes = Uint8Array.from({ length: rows * cols }, (_, i) => (i * 37 + 11) % (1 << bits));
      const packed = packRows(codes, rows, cols, bits);
      expect(packed.length).toBe(rows * Math.ceil((cols * bits) / 8));
      expect(unpackRows(packed, rows, cols, bits)).toEqual(codes);
    }
  });
});

describe('RTN reference, hand-computed cases', () => {
  it('4-bit symmetric: scale = max|w|/7, codes q+8, ties to even', () => {
    const { q, codes } = codesOf(block16([7, -7, 0.5, 1.5, 2.5, -0.5, -2.5, 3.4, -3.6]), 1, 16, sym(4));
    expect(Array.from(q.scales)).toEqual([1]);
    expect(q.zeroPoints).toBeNull();
    expect(codes.slice(0, 10)).toEqual([15, 1, 8, 10, 10, 8, 6, 11, 4, 8]);
    expect(q.packed[0]).toBe(15 | (1 << 4)); // element 0 in the low nibble
    expect(q.packed.length).toBe(8);
  });
  it('2-bit symmetric: scale = max|w|/1, q in [-2, 1]', () => {
    const { q, codes } = codesOf(block16([2, -2, 1, -1, 0.9, 1.1]), 1, 16, sym(2));
    expect(Array.from(q.scales)).toEqual([2]);
    // w/s = 1, -1, 0.5, -0.5, 0.45, 0.55 -> 1, -1, 0, -0, 0, 1 -> +2
    expect(codes.slice(0, 7)).toEqual([3, 1, 2, 2, 2, 3, 2]);
    expect(q.packed.length).toBe(4);
  });
  it('8-bit symmetric: scale = max|w|/127, codes q+128', () => {
    const { q, codes } = codesOf(block16([127, -127, 3.5, -4.5, 100]), 1, 16, sym(8));
    expect(Array.from(q.scales)).toEqual([1]);
    expect(codes.slice(0, 6)).toEqual([255, 1, 132, 124, 228, 128]);
  });
  it('4-bit asymmetric: scale = (max-min)/15, zero = round(-min/scale)', () => {
    const { q, codes } = codesOf(block16([-1, 14, 2.5, 3.5, -0.5]), 1, 16, asym(4));
    expect(Array.from(q.scales)).toEqual([1]);
    expect(Array.from(unpackZeroPoints(q.zeroPoints!, 1, 1, 4))).toEqual([1]);
    expect(codes.slice(0, 6)).toEqual([0, 15, 3, 5, 1, 1]);
  });
  it('2-bit and 8-bit asymmetric', () => {
    const two = codesOf(block16([-1, 2, 0.5]), 1, 16, asym(2));
    expect(Array.from(two.q.scales)).toEqual([1]);
    expect(two.q.zeroPoints![0]).toBe(1);
    expect(two.codes.slice(0, 4)).toEqual([0, 3, 1, 1]);
    const eight = codesOf(block16([-55, 200, 0.5, 1.5]), 1, 16, asym(8));
    expect(Array.from(eight.q.scales)).toEqual([1]);
    expect(eight.q.zeroPoints![0]).toBe(55);
    expect(eight.codes.slice(0, 5)).toEqual([0, 255, 55, 57, 55]);
  });
  it('one-signed blocks keep 0 in range instead of clamping', () => {
    const { q, codes } = codesOf(block16(Array(16).fill(3)), 1, 16, asym(4));
    expect(Array.from(q.scales)).toEqual([Math.fround(3 / 15)]);
    expect(q.zeroPoints![0]).toBe(0);
    expect(codes).toEqual(Array(16).fill(15));
  });
  it('an all-zero block stores scale 0 and dequantizes to exactly 0', () => {
    for (const o of [sym(4), asym(4), sym(8), asym(2)]) {
      const w = new Float32Array(32);
      const q = quantizeRtnReference(w, 2, 16, o);
      expect(Array.from(q.scales)).toEqual([0, 0]);
      expect(dequantizeNBits(q, 2, 16, o)).toEqual(w);
    }
  });
  it('pads K=20 to two blocks of 16 whose tail codes are the zero point', () => {
    const w = Float32Array.from({ length: 2 * 20 }, (_, i) => ((i % 7) - 3) * 0.1);
    for (const o of [sym(4), asym(4)]) {
      const { q, codes } = codesOf(w, 2, 20, o);
      expect(q.packed.length).toBe(2 * 2 * 8); // [N=2, kBlocks=2, blob=8]
      const zps = q.zeroPoints ? Array.from(unpackZeroPoints(q.zeroPoints, 2, 2, 4)) : [8, 8, 8, 8];
      for (let n = 0; n < 2; n++) expect(codes.slice(n * 32 + 20, n * 32 + 32)).toEqual(Array(12).fill(zps[n * 2 + 1]));
      expect(q.zeroPoints?.length ?? 2).toBe(2); // [N=2, ceil(2 blocks * 4 bits / 8) = 1]
    }
  });
  it('packs 4-bit zero points per row, low nibble first, rows padded to a byte', () => {
    const w = new Float32Array(3 * 16);
    for (let b = 0; b < 3; b++) for (let i = 0; i < 16; i++) w[b * 16 + i] = i - (b + 1); // min -(b+1), max 15-(b+1): scale 1
    const q = quantizeRtnReference(w, 1, 48, asym(4));
    expect(Array.from(q.scales)).toEqual([1, 1, 1]);
    expect(Array.from(q.zeroPoints!)).toEqual([1 | (2 << 4), 3]); // [N=1, ceil(3*4/8) = 2]
  });
  it('f16 scales are the f16 rounding of the f32 scale, and codes use the rounded scale', () => {
    const w = block16([0.1, -0.3, 0.2, 0.05]);
    const q = quantizeRtnReference(w, 1, 16, { ...sym(4), scaleDtype: 'f16' });
    expect(q.scales).toBeInstanceOf(Uint16Array);
    const s = halfToFloat(q.scales[0]);
    expect(q.scales[0]).toBe(floatToHalf(Math.fround(Math.fround(0.3) / 7)));
    const wHat = dequantizeNBits(q, 1, 16, { bits: 4, blockSize: 16 });
    for (let i = 0; i < 16; i++) expect(Math.abs(w[i] - wHat[i])).toBeLessThanOrEqual(s / 2 + BUDGET.rtnHalfStepSlack);
  });
});

describe('RTN reference, error bounds on random weights', () => {
  it('|w - dequantize(quantize(w))| <= scale/2 for every element, each width, both modes', () => {
    const rand = lcgRng(7);
    const N = 8;
    const K = 200; // not a multiple of any block size
    const w = Float32Array.from({ length: N * K }, () => rand() * (rand() > 0.45 ? 1 : 0.01));
    for (const bits of [2, 4, 8]) {
      for (const symmetric of [true, false]) {
        for (const blockSize of [16, 64, 128]) {
          const o: RtnOptions = { bits, blockSize, symmetric, scaleDtype: 'f32' };
          const q = quantizeRtnReference(w, N, K, o);
          const wHat = dequantizeNBits(q, N, K, o);
          const kBlocks = Math.ceil(K / blockSize);
          let worst = 0; // largest |w - w_hat| / scale
          for (let n = 0; n < N; n++) {
            for (let k = 0; k < K; k++) {
              const scale = q.scales[n * kBlocks + Math.floor(k / blockSize)];
              worst = Math.max(worst, Math.abs(w[n * K + k] - wHat[n * K + k]) / scale);
            }
          }
          expect(worst).toBeLessThanOrEqual(0.5 + BUDGET.rtnHalfStepSlackInSteps);
          const err = relativeFrobeniusError(w, wHat);
          expect(err).toBeGreaterThan(0);
          expect(err).toBeLessThan(BUDGET.rtnRelError[bits as 2 | 4 | 8]);
        }
      }
    }
  });
});

describe('relative Frobenius error', () => {
  it('is ||W - W_hat|| / ||W||', () => {
    expect(relativeFrobeniusError(Float32Array.of(3, 4), Float32Array.of(3, 4))).toBe(0);
    expect(relativeFrobeniusError(Float32Array.of(3, 4), Float32Array.of(0, 4))).toBeCloseTo(0.6, 12);
    expect(relativeFrobeniusError(Float32Array.of(0, 0), Float32Array.of(0, 1))).toBe(Infinity);
  });
});

describe('RTN validation', () => {
  const w = new Float32Array(64);
  it('refuses widths the runtime cannot run and block sizes the op does not allow', () => {
    expectShrinkrayError(() => quantizeRtnReference(w, 2, 32, sym(3)), 'bad_recipe', /3-bit .*only 2, 4, 8/);
    expectShrinkrayError(() => quantizeRtnReference(w, 2, 32, sym(9)), 'bad_recipe', /bits must be an integer in 2..8, got 9/);
    expectShrinkrayError(() => quantizeRtnReference(w, 2, 32, sym(4, 48)), 'bad_recipe', /power of two in 16..256, got 48/);
    expectShrinkrayError(() => quantizeRtnReference(w, 2, 32, sym(4, 512)), 'bad_recipe', /got 512/);
    expectShrinkrayError(
      () => quantizeRtnReference(w, 1, 64, { ...sym(4, 128), name: 'q_proj' }),
      'bad_recipe',
      /'q_proj'.*128 is larger than .*K=64/,
    );
  });
  it('refuses a weight whose length is not N*K, and non-finite weights', () => {
    expectShrinkrayError(() => quantizeRtnReference(w, 3, 32, sym(4)), 'bad_argument', /N\*K = 3\*32 = 96 floats, got 64/);
    const bad = new Float32Array(64);
    bad[40] = NaN;
    expectShrinkrayError(() => quantizeRtnReference(bad, 2, 32, sym(4)), 'bad_argument', /row 1, block 0: weight 8 is NaN/);
  });
  it('refuses scales beyond the f16 range when scales are f16', () => {
    const big = new Float32Array(32).fill(1e6);
    expectShrinkrayError(() => quantizeRtnReference(big, 1, 32, { ...sym(4), scaleDtype: 'f16' }), 'bad_argument', /exceeds the f16 range/);
  });
});

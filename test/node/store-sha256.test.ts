import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from '../../src/store/sha256.ts';

/** The incremental SHA-256 against Node's crypto: every padding edge, any split, saved state. */

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
const reference = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('sha256', () => {
  it('matches Node crypto at every padding edge', () => {
    expect(sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const n of [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 100_003]) {
      const b = bytes(n, n);
      expect(sha256Hex(b), `${n} bytes`).toBe(reference(b));
    }
  });

  it('gives the same digest however the input is split', () => {
    const b = bytes(10_000, 7);
    for (const step of [1, 7, 63, 64, 65, 4096]) {
      const h = new Sha256();
      for (let i = 0; i < b.length; i += step) h.update(b.subarray(i, i + step));
      expect(h.hex(), `pieces of ${step}`).toBe(reference(b));
    }
  });

  it('resumes from a saved state on a block boundary, and refuses one off it', () => {
    const b = bytes(5000, 9);
    const first = new Sha256().update(b.subarray(0, 4096));
    const state = JSON.parse(JSON.stringify(first.state())); // as stored in IndexedDB
    expect(Sha256.fromState(state).update(b.subarray(4096)).hex()).toBe(reference(b));
    expect(() => new Sha256().update(b.subarray(0, 100)).state()).toThrow(/not on a 64-byte block boundary/);
    expect(() => Sha256.fromState({ h: [1, 2], length: 64 })).toThrow(/needs 8 words/);
  });
});

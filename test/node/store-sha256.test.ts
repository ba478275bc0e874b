import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openModelStore } from '../../src/store/idb-store.ts';
import { Sha256, sha256Hex } from '../../src/store/sha256.ts';

/**
 * The store's incremental SHA-256 (hash-wasm) against Node's crypto: every padding edge, any
 * split, a state saved and resumed as IndexedDB keeps it; and a stage saved by the old
 * hand-written hasher restarts rather than hashing on from a state it cannot read.
 */

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
  it('matches Node crypto at every padding edge', async () => {
    expect(await sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const n of [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 100_003]) {
      const b = bytes(n, n);
      expect(await sha256Hex(b), `${n} bytes`).toBe(reference(b));
    }
  });

  it('gives the same digest however the input is split', async () => {
    const b = bytes(40_000, 7); // more than hash-wasm's 16 KiB window, so updates cross it
    for (const step of [1, 7, 63, 64, 65, 4096, 16_385]) {
      const h = await Sha256.create();
      for (let i = 0; i < b.length; i += step) h.update(b.subarray(i, i + step));
      expect(h.hex(), `pieces of ${step}`).toBe(reference(b));
    }
  });

  it('resumes from a saved state, on or off a block boundary, after a structured clone', async () => {
    const b = bytes(5000, 9);
    for (const cut of [0, 100, 4096]) {
      const first = (await Sha256.create()).update(b.subarray(0, cut));
      const state = structuredClone(first.state()); // as IndexedDB stores and returns it
      const resumed = await Sha256.resume(state);
      expect(resumed, `state at ${cut} bytes`).toBeDefined();
      expect(resumed!.update(b.subarray(cut)).hex(), `resumed at ${cut} bytes`).toBe(reference(b));
    }
  });

  it('refuses a state it cannot continue', async () => {
    const good = (await Sha256.create()).update(bytes(64, 1)).state();
    const otherBuild = { ...good, bytes: good.bytes.slice() };
    otherBuild.bytes[0]! ^= 0xff; // the 4 bytes that name the wasm build that saved it
    expect(await Sha256.resume(otherBuild)).toBeUndefined();
    expect(await Sha256.resume({ ...good, bytes: good.bytes.subarray(1) })).toBeUndefined();
    expect(
      await Sha256.resume({
        h: [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19],
        length: 0,
      }),
    ).toBeUndefined();
    expect(await Sha256.resume(undefined)).toBeUndefined();
  });

  it('restarts a staged file whose hash state the old hand-written hasher saved', async () => {
    const chunk = 1024;
    const data = bytes(3 * chunk + 10, 3);
    const store = await openModelStore({ name: `sha256-compat-${Date.now()}`, chunkBytes: chunk, collectGarbage: false });
    try {
      const opts = { name: 'model.safetensors', expectedSize: data.byteLength, resumable: true };
      const w = await store.stageFile('dl', opts);
      await w.write(data.subarray(0, 2 * chunk));
      // What a session before hash-wasm left: the same record with the old state's shape.
      const tx = store.db.transaction('staging', 'readwrite');
      const rec = (await tx.store.get('dl'))!;
      expect(rec.storedBytes).toBe(2 * chunk);
      await tx.store.put({ ...rec, hash: { h: [1, 2, 3, 4, 5, 6, 7, 8], length: 2 * chunk } as never });
      await tx.done;

      const again = await store.stageFile('dl', opts);
      expect(again.position).toBe(0); // not 2 KiB on from an unreadable state
      expect(again.fileId).not.toBe(w.fileId);
      expect(await store.db.count('chunks')).toBe(0); // the old stage's chunks went with it
      await again.write(data);
      expect((await again.finish()).sha256).toBe(reference(data));
    } finally {
      store.close();
    }
  });
});

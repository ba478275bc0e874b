import { ShrinkrayError } from '../../errors.ts';

/**
 * Exact "prune the `count` lowest scores" selection in O(n), shared by magnitude, Wanda-style
 * and structured pruning.
 *
 * Instead of sorting, each score is mapped to a uint32 key whose unsigned order equals the
 * float order, and the count-th smallest key is found by a radix select (4 passes of 8 bits,
 * each counting only the keys that still match the prefix found so far). That is O(n) in
 * the worst case, with no pivot luck involved, and the same integer steps port directly to
 * WASM and WGSL.
 *
 * Tie rule: with threshold T = the count-th smallest score, every score < T is pruned and
 * the remaining quota is taken from the scores equal to T in increasing index order, so
 * among equal scores the LOWER INDEX IS PRUNED FIRST. Exactly `count` entries are pruned.
 */

const SIGN = 0x80000000;
/**
 * Fills `keys[0..len)` with order keys (unsigned order = float order: flip all bits of
 * negatives, set the sign bit of non-negatives; -0 folded into +0) of `scores[start..start+len)`.
 * `what` names the tensor for the error raised on a NaN score.
 */
export function fillKeys(scores: Float32Array, start: number, len: number, keys: Uint32Array, what: string): void {
  // Read the float bits through a uint32 view of the same memory: no per-element boxing.
  const bits = new Uint32Array(scores.buffer, scores.byteOffset + start * 4, len);
  for (let i = 0; i < len; i++) {
    let b = bits[i]!;
    if ((b & 0x7fffffff) > 0x7f800000) {
      throw new ShrinkrayError('bad_argument', `${what}: score at index ${start + i} is NaN; pruning needs finite scores`);
    }
    if (b === SIGN) b = 0; // -0 is +0
    keys[i] = b & SIGN ? ~b >>> 0 : (b | SIGN) >>> 0;
  }
}

/** The key of rank `k` (0-based, k < len) among `keys[0..len)`, by 8-bit radix select. */
export function kthSmallestKey(keys: Uint32Array, len: number, k: number): number {
  const hist = new Uint32Array(256);
  let prefix = 0; // the high bits of the answer found so far
  let mask = 0; // which bits of `prefix` are decided
  let rank = k; // rank of the answer among the keys that match `prefix`
  for (let shift = 24; shift >= 0; shift -= 8) {
    hist.fill(0);
    for (let i = 0; i < len; i++) {
      const key = keys[i]!;
      if ((key & mask) === prefix) hist[(key >>> shift) & 255]!++;
    }
    let bucket = 0;
    while (rank >= hist[bucket]!) rank -= hist[bucket++]!;
    prefix = prefix | (bucket << shift) | 0;
    mask = mask | (255 << shift) | 0;
  }
  return prefix >>> 0;
}

/**
 * Writes the keep-mask of one scope: `mask[out + i] = 0` for the `count` lowest of
 * `keys[0..len)` (ties: lower index first), 1 for the rest.
 */
export function maskLowestKeys(keys: Uint32Array, len: number, count: number, mask: Uint8Array, out: number): void {
  if (count <= 0) {
    mask.fill(1, out, out + len);
    return;
  }
  if (count >= len) {
    mask.fill(0, out, out + len);
    return;
  }
  const threshold = kthSmallestKey(keys, len, count - 1);
  let below = 0;
  for (let i = 0; i < len; i++) if (keys[i]! < threshold) below++;
  let equalQuota = count - below; // how many of the keys equal to the threshold are pruned
  for (let i = 0; i < len; i++) {
    const key = keys[i]!;
    if (key < threshold) mask[out + i] = 0;
    else if (key === threshold && equalQuota > 0) {
      mask[out + i] = 0;
      equalQuota--;
    } else mask[out + i] = 1;
  }
}

/**
 * Sorted indices of the `keep` highest of `scores` (the complement of pruning the
 * len - keep lowest with the tie rule above). Used to pick structured channels/groups.
 */
export function keptIndices(scores: Float32Array, keep: number, what: string): Int32Array {
  const len = scores.length;
  const keys = new Uint32Array(len);
  fillKeys(scores, 0, len, keys, what);
  const mask = new Uint8Array(len);
  maskLowestKeys(keys, len, len - keep, mask, 0);
  const kept = new Int32Array(keep);
  let j = 0;
  for (let i = 0; i < len; i++) if (mask[i]) kept[j++] = i;
  return kept;
}

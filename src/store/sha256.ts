import { createSHA256, type IHasher } from 'hash-wasm';

/**
 * Incremental SHA-256 for the store, on hash-wasm (its hashers save() and load() their
 * state). WebCrypto only hashes a whole buffer at once, which would mean holding a
 * multi-gigabyte file in memory; this one is fed chunk by chunk, and its state is saved
 * with each stored chunk so a resumed download need not re-read what it already stored.
 * hash-wasm's wasm is inlined in its JS as base64: nothing extra to serve or cache.
 * (bench/sha256.ts compares it with the hand-written hasher it replaced.)
 */

/** The saved state, as kept in a StageRecord in IndexedDB. */
export interface Sha256State {
  format: typeof STATE_FORMAT;
  // hash-wasm's save(): 4 bytes naming its wasm build, then the context (8 chaining words,
  // the byte count and the partial block), so the state need not sit on a block boundary.
  bytes: Uint8Array;
}

// Records written before hash-wasm hold `{ h: number[], length }` (the hand-written hasher's
// chaining words) and no `format`: resume() refuses them, and the store restarts that file.
const STATE_FORMAT = 'hash-wasm-sha256';

export class Sha256 {
  private constructor(private readonly hasher: IHasher) {}

  /** A hasher at the start of a file. */
  static async create(): Promise<Sha256> {
    return new Sha256(await createSHA256());
  }

  /**
   * A hasher that continues from a saved state, or undefined where the state is not one
   * this build can continue (written by the old hand-written hasher, or by a hash-wasm
   * build whose state layout differs): the caller starts that file again.
   */
  static async resume(state: unknown): Promise<Sha256 | undefined> {
    if (!isSha256State(state)) return undefined;
    const hasher = await createSHA256();
    try {
      hasher.load(state.bytes);
    } catch {
      return undefined; // "written by an incompatible hash implementation" or a bad length
    }
    return new Sha256(hasher);
  }

  /** The state to save with the bytes hashed so far. */
  state(): Sha256State {
    return { format: STATE_FORMAT, bytes: this.hasher.save() };
  }

  update(bytes: Uint8Array): this {
    this.hasher.update(bytes);
    return this;
  }

  /** Lowercase hex of the digest; the hasher is spent afterwards. */
  hex(): string {
    return this.hasher.digest('hex');
  }
}

function isSha256State(s: unknown): s is Sha256State {
  return (
    typeof s === 'object' && s !== null && (s as Sha256State).format === STATE_FORMAT && (s as Sha256State).bytes instanceof Uint8Array
  );
}

/** SHA-256 of bytes in memory, as lowercase hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return (await Sha256.create()).update(bytes).hex();
}

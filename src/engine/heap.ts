import { ShrinkrayError } from '../errors.ts';

/**
 * The engine's memory: one WebAssembly.Memory holding a model's stored bytes (read straight
 * into it), its KV caches and its scratch, shared by the threads of that model. Blocks are
 * handed out first-fit from a free list, 16-byte aligned, and the memory grows when none
 * fits. SLACK bytes past the highest block stay inside the memory, so a kernel may read a
 * whole 16-byte chunk at a row's end (it ignores what lies past the row).
 */
const PAGE = 65536;
const ALIGN = 16;
const SLACK = 64;

export class EngineHeap {
  private top: number; // end of the highest block
  private highWater = 0; // end of the highest block ever handed out
  private readonly free: { start: number; size: number }[] = []; // sorted by start, coalesced
  private readonly sizes = new Map<number, number>(); // live blocks
  private buffer: ArrayBufferLike | null = null;
  private views: { u8: Uint8Array; i32: Int32Array; f32: Float32Array } | null = null;

  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
    private readonly maxBytes: number,
  ) {
    this.top = align(base);
  }

  /** Creates a memory (shared for threads) of at most maxBytes and a heap above `base`. */
  static create(base: number, shared: boolean, maxBytes: number): EngineHeap {
    const maximum = Math.ceil(maxBytes / PAGE);
    const initial = Math.ceil((base + SLACK) / PAGE) + 1;
    const memory = new WebAssembly.Memory(shared ? { initial, maximum, shared: true } : { initial, maximum });
    return new EngineHeap(memory, base, maximum * PAGE);
  }

  /** A block of `bytes` (16-byte aligned, zero-filled); its address. `what` names it if memory runs out. */
  alloc(bytes: number, what: string): number {
    const size = align(Math.max(bytes, 1));
    let at: number;
    const i = this.free.findIndex((f) => f.size >= size);
    if (i >= 0) {
      const f = this.free[i]!;
      at = f.start;
      if (f.size === size) this.free.splice(i, 1);
      else {
        f.start += size;
        f.size -= size;
      }
    } else {
      at = this.top;
      this.ensure(at + size + SLACK, what);
      this.top = at + size;
    }
    this.sizes.set(at, size);
    // Memory above the high-water mark was never handed out: still zero from the grow.
    this.u8.fill(0, at, Math.min(at + size, this.highWater));
    this.highWater = Math.max(this.highWater, at + size);
    return at;
  }

  /** Returns a block to the free list. */
  release(at: number): void {
    const size = this.sizes.get(at);
    if (size === undefined) return;
    this.sizes.delete(at);
    if (at + size === this.top) {
      this.top = at;
      // The block below the top may now be free too.
      const last = this.free[this.free.length - 1];
      if (last && last.start + last.size === this.top) {
        this.top = last.start;
        this.free.pop();
      }
      return;
    }
    let i = this.free.findIndex((f) => f.start > at);
    if (i < 0) i = this.free.length;
    this.free.splice(i, 0, { start: at, size });
    const next = this.free[i + 1];
    if (next && at + size === next.start) {
      this.free[i]!.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.start + prev.size === at) {
      prev.size += this.free[i]!.size;
      this.free.splice(i, 1);
    }
  }

  /** Bytes of the memory now (what the heap costs the process). */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  get u8(): Uint8Array {
    return this.current().u8;
  }

  get i32(): Int32Array {
    return this.current().i32;
  }

  get f32(): Float32Array {
    return this.current().f32;
  }

  private current(): { u8: Uint8Array; i32: Int32Array; f32: Float32Array } {
    // Growing detaches a private memory's buffer and gives a shared one a longer buffer object.
    const buffer = this.memory.buffer;
    if (buffer !== this.buffer || !this.views) {
      this.buffer = buffer;
      this.views = { u8: new Uint8Array(buffer), i32: new Int32Array(buffer), f32: new Float32Array(buffer) };
    }
    return this.views;
  }

  private ensure(bytes: number, what: string): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    if (bytes > this.maxBytes) {
      throw new ShrinkrayError(
        'runtime_error',
        `the CPU engine's memory cannot hold ${what}: it needs ${mb(bytes)} MB, above the ${mb(this.maxBytes)} MB a wasm32 memory may have`,
      );
    }
    try {
      this.memory.grow(Math.ceil((bytes - have) / PAGE));
    } catch (e) {
      throw new ShrinkrayError('runtime_error', `the CPU engine could not grow its memory to ${mb(bytes)} MB for ${what}`, { cause: e });
    }
  }
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
const mb = (n: number) => (n / 1e6).toFixed(0);

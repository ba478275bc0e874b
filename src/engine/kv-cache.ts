import { ShrinkrayError } from '../errors.ts';
import type { DecoderState } from '../model/causal-lm.ts';
import type { ModelConfig } from '../model/config.ts';
import type { EngineHeap } from './heap.ts';

/**
 * A sequence's KV cache in the engine's heap: per layer, keys then values, each
 * f32 [kvHeads, capacity, hd] (RoPE applied to keys). It grows by doubling, up to the context
 * length, by moving into a larger block.
 */
export class CpuState implements DecoderState {
  length = 0;
  capacity = 0;
  private block = 0;
  private disposed = false;

  constructor(
    readonly owner: object,
    private readonly heap: EngineHeap,
    private readonly c: ModelConfig,
  ) {}

  /** Bytes of one layer's keys (or values) per position of capacity. */
  private get rowBytes(): number {
    return this.c.numKvHeads * this.c.headDim * 4;
  }

  keys(layer: number): number {
    return this.block + 2 * layer * this.capacity * this.rowBytes;
  }

  values(layer: number): number {
    return this.keys(layer) + this.capacity * this.rowBytes;
  }

  /** Room for `needed` positions; the caller checked the context length. */
  reserve(needed: number): void {
    if (this.disposed) throw new ShrinkrayError('bad_argument', 'this decoder state was disposed');
    if (needed <= this.capacity) return;
    const capacity = Math.min(this.c.maxPositionEmbeddings, Math.max(needed, this.capacity * 2, 64));
    const L = this.c.numLayers;
    const block = this.heap.alloc(2 * L * capacity * this.rowBytes, `a KV cache of ${capacity} positions`);
    if (this.block) {
      // Each head's rows move as one piece: [kvHeads, capacity, hd] changes only its stride.
      const u8 = this.heap.u8;
      const head = this.c.headDim * 4;
      for (let part = 0; part < 2 * L; part++) {
        for (let h = 0; h < this.c.numKvHeads; h++) {
          const from = this.block + part * this.capacity * this.rowBytes + h * this.capacity * head;
          const to = block + part * capacity * this.rowBytes + h * capacity * head;
          u8.copyWithin(to, from, from + this.length * head);
        }
      }
      this.heap.release(this.block);
    }
    this.block = block;
    this.capacity = capacity;
  }

  dispose(): void {
    if (this.block) this.heap.release(this.block);
    this.block = 0;
    this.capacity = 0;
    this.length = 0;
    this.disposed = true;
  }
}

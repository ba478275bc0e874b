import { ShrinkrayError } from '../errors.ts';
import { isSharedBuffer } from '../kernels/wasm-instance.ts';
import type { EngineExports } from './engine-module.ts';
import {
  helperThreadsFor,
  PART_BITS,
  PART_MASK,
  type EngineThreadSpawner,
  type HelperThread,
  type HelperThreads,
} from './engine-threads.ts';
import type { EngineHeap } from './heap.ts';
import { TASK } from './task-layout.ts';

/**
 * Runs kernel tasks on the calling thread and, where memory is shared, on helper threads.
 * A task is cut into parts (runTask(part, parts) in wasm/assembly/tasks.ts) that threads
 * claim one at a time from a ticket in the task block: (generation << 20) | next part,
 * advanced by compare-and-swap. The calling thread claims parts too, so a helper that wakes
 * late (its core busy elsewhere: these machines have 2 cores, shared) just finds fewer parts
 * left, or none: a task never waits for a thread that has not started on it, which is what
 * keeps 2 threads from being slower than 1. Helpers park in Atomics.wait between tasks;
 * they come from the realm's pool (engine-threads.ts) and go back to it when the runner is disposed.
 */

export { browserThreadSpawner, type EngineThread, type EngineThreadSpawner } from './engine-threads.ts';

// Spins (atomic loads) before parking, kept short on purpose. Measured on these 2-core
// machines with one core taken by other work: with 20,000-load spins an empty task cost
// 300 us (the spinning thread held the core the other needed), parked at once 10 us.
const MAIN_SPIN = 16;
// Parts per thread and task: enough that a helper arriving late still finds some, few
// enough that claiming costs nothing next to a part (the smallest task here is a 192-row
// product of a small model).
const PARTS_PER_THREAD = 4;
// A part a helper claimed and never finished (its thread stopped or was ended by the browser)
// would leave the calling thread waiting forever: once no part has finished for this long the
// task fails with a 'timeout'. A part is a slice of one product, milliseconds even under load.
export const PART_WAIT_MS = 60_000;
// The calling thread wakes this often while it waits, to look at the clock.
const WAIT_SLICE_MS = 1_000;

export class TaskRunner {
  private readonly slots: number; // index of the task block in heap.i32
  private gen = 0;

  private constructor(
    private readonly exports: EngineExports,
    readonly heap: EngineHeap,
    block: number,
    private readonly helpers: HelperThread[],
    private readonly pool: HelperThreads | null,
    private readonly canBlock: boolean,
    private readonly partWaitMs: number,
  ) {
    this.slots = block >>> 2;
  }

  /** Threads taking part in each task, the calling one included. */
  get threads(): number {
    return this.helpers.length + 1;
  }

  /** The most parts a task is cut into (per-part scratch is sized by it). */
  get maxParts(): number {
    return this.helpers.length === 0 ? 1 : this.threads * PARTS_PER_THREAD;
  }

  /**
   * A runner with `threads` threads (helpers only when the heap's memory is shared and a
   * spawner is given: idle ones of its pool first). Resolves once every helper is parked; a
   * helper that does not start within POOL_START_TIMEOUT_MS fails it with a 'timeout' naming the thread.
   */
  static async create(
    exports: EngineExports,
    heap: EngineHeap,
    module: WebAssembly.Module,
    threads: number,
    spawner: EngineThreadSpawner | null,
    partWaitMs = PART_WAIT_MS,
  ): Promise<TaskRunner> {
    const block = heap.alloc(TASK.blockBytes, 'the task block');
    exports.setTaskBlock(block);
    const shared = isSharedBuffer(heap.memory.buffer);
    const pool = threads > 1 && shared && spawner ? helperThreadsFor(spawner) : null;
    const helpers = pool ? await pool.attach(threads - 1, { module, memory: heap.memory, block }) : [];
    return new TaskRunner(exports, heap, block, helpers, pool, shared && canBlockHere(heap), partWaitMs);
  }

  /** Runs task `op` with `args` (slots from TASK.args) on every thread; returns when all its parts are done. */
  run(op: number, args: readonly number[]): void {
    const i32 = this.heap.i32;
    const s = this.slots;
    i32[s + TASK.op] = op;
    for (let i = 0; i < args.length; i++) i32[s + TASK.args + i] = args[i]!;
    if (this.helpers.length === 0) {
      this.exports.runTask(0, 1);
      return;
    }
    const parts = this.maxParts;
    i32[s + TASK.parts] = parts;
    Atomics.store(i32, s + TASK.done, 0);
    this.gen = (this.gen + 1) & 0xfff;
    const first = this.gen << PART_BITS;
    Atomics.store(i32, s + TASK.ticket, first);
    Atomics.notify(i32, s + TASK.ticket);
    // Claim parts like any helper.
    for (let t = Atomics.load(i32, s + TASK.ticket); t >>> PART_BITS === this.gen && (t & PART_MASK) < parts;) {
      const won = Atomics.compareExchange(i32, s + TASK.ticket, t, t + 1);
      if (won !== t) {
        t = won;
        continue;
      }
      this.exports.runTask(t & PART_MASK, parts);
      Atomics.add(i32, s + TASK.done, 1);
      t = Atomics.load(i32, s + TASK.ticket);
    }
    // Wait only for parts a helper claimed and has not finished.
    let done = Atomics.load(i32, s + TASK.done);
    for (let i = 0; done < parts && i < MAIN_SPIN; i++) done = Atomics.load(i32, s + TASK.done);
    let waitedSince = 0;
    for (let last = done; done < parts;) {
      if (this.canBlock) Atomics.wait(i32, s + TASK.done, done, WAIT_SLICE_MS);
      done = Atomics.load(i32, s + TASK.done);
      if (done !== last) [last, waitedSince] = [done, 0];
      else if (waitedSince === 0) waitedSince = performance.now();
      else if (performance.now() - waitedSince >= this.partWaitMs) this.stalled(parts, done);
    }
    const failed = Atomics.load(i32, s + TASK.failed);
    if (failed !== 0) {
      this.dispose();
      throw new ShrinkrayError(
        'runtime_error',
        `CPU engine thread ${failed} failed in a kernel (its error was posted to the console); the model must be reloaded`,
      );
    }
  }

  /** A helper holds a part it does not finish: the runner is let go (that helper is not reused) and the task fails. */
  private stalled(parts: number, done: number): never {
    const claimed = Atomics.load(this.heap.i32, this.slots + TASK.ticket) & PART_MASK;
    this.dispose();
    throw new ShrinkrayError(
      'timeout',
      `CPU engine: ${claimed - done} of the ${parts} parts of a task that helper threads took did not finish within ${this.partWaitMs / 1000} s ` +
        `(a helper thread stopped); the model must be reloaded`,
    );
  }

  /** Lets the helpers go: they leave this engine's loop and return to the pool, idle (never terminated: see engine-threads.ts). */
  dispose(): void {
    if (this.helpers.length > 0) {
      const i32 = this.heap.i32;
      i32[this.slots + TASK.op] = TASK.opExit;
      this.gen = (this.gen + 1) & 0xfff;
      Atomics.store(i32, this.slots + TASK.ticket, this.gen << PART_BITS);
      Atomics.notify(i32, this.slots + TASK.ticket);
    }
    this.pool?.detach(this.helpers.splice(0));
  }
}

/** Atomics.wait throws on a page's main thread; there the runner spins instead. */
function canBlockHere(heap: EngineHeap): boolean {
  try {
    Atomics.wait(heap.i32, 0, 1, 0); // slot 0 lies below the heap (module data), never 1 here
    return true;
  } catch {
    return false;
  }
}

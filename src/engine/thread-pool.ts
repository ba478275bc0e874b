import { serializeError, ShrinkrayError, toShrinkrayError } from '../errors.ts';
import type { EngineExports } from './engine-module.ts';
import type { EngineHeap } from './heap.ts';
import { TASK } from './task-layout.ts';

/**
 * Runs kernel tasks on the calling thread and, where memory is shared, on helper threads.
 * A task is cut into parts (runTask(part, parts) in wasm/assembly/tasks.ts) that threads
 * claim one at a time from a ticket in the task block: (generation << 20) | next part,
 * advanced by compare-and-swap. The calling thread claims parts too, so a helper that wakes
 * late (its core busy elsewhere: these machines have 2 cores, shared) just finds fewer parts
 * left, or none: a task never waits for a thread that has not started on it, which is what
 * keeps 2 threads from being slower than 1. Helpers park in Atomics.wait between tasks.
 */

/** A worker as the pool needs it: the browser's Worker and Node's worker_threads both fit. */
export interface EngineThread {
  postMessage(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  terminate(): void;
}

/**
 * Starts a worker running `source` (plain JavaScript defining engineThread(data, post)). Its
 * messages: { ready: tid }, { exited: tid }, or { error: SerializedShrinkrayError } (from the
 * thread, or from the spawner when the worker itself fails: its 'error' event, its early end).
 */
export type EngineThreadSpawner = (source: string) => EngineThread;

const PART_BITS = 20;
const PART_MASK = (1 << PART_BITS) - 1;

/**
 * The helper's whole program: instantiate on the shared memory, report ready, then wait on
 * the ticket; claim parts while it carries a new generation (the task's arguments are read
 * by runTask after each successful claim: the task cannot change while a part of it is
 * unfinished), count each part done, wake the main thread after the last. A trap in a kernel
 * marks the task block and still counts the part, so the main thread wakes and reports it.
 * Errors leave as SerializedShrinkrayError (src/errors.ts), written out here: the program is
 * plain JavaScript with no imports.
 */
export const ENGINE_THREAD_SOURCE = `async function engineThread(d, post) {
  const failure = (e) => ({ kind: 'shrinkray-error', code: (e && typeof e.code === 'string' && e.name === 'ShrinkrayError') ? e.code : 'runtime_error',
    message: String((e && e.name ? e.name + ': ' : '') + ((e && e.message) || e)), stack: e && e.stack ? String(e.stack) : undefined });
  let instance;
  try {
    instance = await WebAssembly.instantiate(d.module, { env: { memory: d.memory } });
    instance.exports.setTaskBlock(d.block);
  } catch (e) {
    post({ error: failure(e) });
    return;
  }
  const i32 = new Int32Array(d.memory.buffer); // the task block lies below the memory's size at start
  const at = d.block >>> 2;
  const TICKET = at + ${TASK.ticket}, DONE = at + ${TASK.done}, OP = at + ${TASK.op}, PARTS = at + ${TASK.parts};
  let seen = d.ticket;
  post({ ready: d.tid });
  for (;;) {
    let t = Atomics.load(i32, TICKET);
    for (let i = 0; t === seen && i < d.spin; i++) t = Atomics.load(i32, TICKET);
    while (t === seen) {
      Atomics.wait(i32, TICKET, seen);
      t = Atomics.load(i32, TICKET);
    }
    const gen = t >>> ${PART_BITS};
    if (i32[OP] === ${TASK.opExit}) break;
    const parts = i32[PARTS];
    for (;;) {
      if (t >>> ${PART_BITS} !== gen || (t & ${PART_MASK}) >= parts) break;
      const won = Atomics.compareExchange(i32, TICKET, t, t + 1);
      if (won !== t) { t = won; continue; }
      try {
        instance.exports.runTask(t & ${PART_MASK}, parts);
      } catch (e) {
        Atomics.store(i32, at + ${TASK.failed}, d.tid);
        post({ error: failure(e) });
      }
      if (Atomics.add(i32, DONE, 1) + 1 === parts) Atomics.notify(i32, DONE);
      t = Atomics.load(i32, TICKET);
    }
    if (t >>> ${PART_BITS} !== gen) continue; // the next task is already out: look again without waiting
    seen = t;
  }
  post({ exited: d.tid });
}`;

/** A spawner over the browser's Worker (a blob: URL, so no file is served for it), or null where there is none. */
export function browserThreadSpawner(): EngineThreadSpawner | null {
  if (typeof Worker === 'undefined' || typeof Blob === 'undefined') return null;
  return (source) => {
    const glue = `${source}\nself.onmessage = (e) => { self.onmessage = null; engineThread(e.data, (m) => self.postMessage(m)); };`;
    const url = URL.createObjectURL(new Blob([glue], { type: 'text/javascript' }));
    const worker = new Worker(url, { name: 'shrinkray-engine-thread' });
    return {
      postMessage: (m) => worker.postMessage(m),
      onMessage: (listener) => {
        worker.addEventListener('message', (e) => {
          URL.revokeObjectURL(url);
          listener(e.data);
        });
        worker.addEventListener('error', (e) =>
          listener({ error: serializeError(new ShrinkrayError('runtime_error', e.message || 'the engine thread failed to start')) }),
        );
      },
      terminate: () => {
        URL.revokeObjectURL(url);
        worker.terminate();
      },
    };
  };
}

// Spins (atomic loads) before parking, kept short on purpose. Measured on these 2-core
// machines with one core taken by other work: with 20,000-load spins an empty task cost
// 300 us (the spinning thread held the core the other needed), parked at once 10 us.
const HELPER_SPIN = 64;
const MAIN_SPIN = 16;
// Parts per thread and task: enough that a helper arriving late still finds some, few
// enough that claiming costs nothing next to a part (the smallest task here is a 192-row
// product of a small model).
const PARTS_PER_THREAD = 4;

export class TaskRunner {
  private readonly slots: number; // index of the task block in heap.i32
  private gen = 0;

  private constructor(
    private readonly exports: EngineExports,
    readonly heap: EngineHeap,
    block: number,
    private readonly helpers: EngineThread[],
    private readonly canBlock: boolean,
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
   * spawner is given). Resolves once every helper is parked.
   */
  static async create(
    exports: EngineExports,
    heap: EngineHeap,
    module: WebAssembly.Module,
    threads: number,
    spawner: EngineThreadSpawner | null,
  ): Promise<TaskRunner> {
    const block = heap.alloc(TASK.blockBytes, 'the task block');
    exports.setTaskBlock(block);
    const shared = heap.memory.buffer instanceof SharedArrayBuffer;
    const helpers: EngineThread[] = [];
    if (threads > 1 && shared && spawner) {
      try {
        await Promise.all(Array.from({ length: threads - 1 }, (_, i) => startHelper(spawner, module, heap.memory, i + 1, block, helpers)));
      } catch (e) {
        for (const h of helpers) h.terminate();
        throw e;
      }
    }
    return new TaskRunner(exports, heap, block, helpers, shared && canBlockHere(heap));
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
    while (done < parts) {
      if (this.canBlock) Atomics.wait(i32, s + TASK.done, done);
      done = Atomics.load(i32, s + TASK.done);
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

  /** Stops the helpers (they leave their loop, then are terminated). */
  dispose(): void {
    if (this.helpers.length > 0) {
      const i32 = this.heap.i32;
      i32[this.slots + TASK.op] = TASK.opExit;
      this.gen = (this.gen + 1) & 0xfff;
      Atomics.store(i32, this.slots + TASK.ticket, this.gen << PART_BITS);
      Atomics.notify(i32, this.slots + TASK.ticket);
    }
    for (const h of this.helpers.splice(0)) h.terminate();
  }
}

function startHelper(
  spawner: EngineThreadSpawner,
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  tid: number,
  block: number,
  helpers: EngineThread[],
): Promise<void> {
  const thread = spawner(ENGINE_THREAD_SOURCE);
  helpers.push(thread);
  return new Promise((resolve, reject) => {
    thread.onMessage((m) => {
      const msg = m as { ready?: number; error?: unknown };
      if (msg.ready === tid) resolve();
      else if (msg.error) {
        // Before 'ready' this rejects the start; after, run() has already thrown (it cannot wait
        // for a message) and this tells the console what the thread met.
        const e = toShrinkrayError(msg.error);
        console.error(`shrinkray engine thread ${tid}: ${e.stack ?? e.message}`);
        reject(new ShrinkrayError(e.code, `engine thread ${tid} could not start: ${e.message}`, { cause: e }));
      }
    });
    const ticket = Atomics.load(new Int32Array(memory.buffer), (block >>> 2) + TASK.ticket);
    thread.postMessage({ module, memory, tid, block, spin: HELPER_SPIN, ticket });
  });
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

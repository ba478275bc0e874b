import { ShrinkrayError } from '../errors.ts';
import type { EngineExports } from './engine-module.ts';
import type { EngineHeap } from './heap.ts';
import { TASK } from './task-layout.ts';

/**
 * Runs kernel tasks on the calling thread and, where memory is shared, on helper threads.
 * A helper is a worker that instantiates the same module on the same memory and parks in
 * the module's threadLoop (wasm/assembly/tasks.ts): it waits with atomic.wait after a short
 * spin, so idle helpers cost no core. The main thread writes a task into the task block,
 * wakes the helpers, runs share 0 itself and then waits for them the same way.
 */

/** A worker as the pool needs it: the browser's Worker and Node's worker_threads both fit. */
export interface EngineThread {
  postMessage(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  terminate(): void;
}

/** Starts a worker running `source` (plain JavaScript defining engineThread(data, post)). */
export type EngineThreadSpawner = (source: string) => EngineThread;

/**
 * The helper's whole program: instantiate on the shared memory, report ready, then park in
 * Atomics.wait (after a short spin) until the task block's generation moves, run this
 * thread's share, count itself done, and wake the main thread when it is the last. A trap
 * in a kernel marks the task block (the main thread may be blocked, deaf to messages) and
 * counts the helper as done, so the main thread wakes and reports it.
 */
export const ENGINE_THREAD_SOURCE = `async function engineThread(d, post) {
  let instance;
  try {
    instance = await WebAssembly.instantiate(d.module, { env: { memory: d.memory } });
    instance.exports.setTaskBlock(d.block);
  } catch (e) {
    post({ error: String(e) });
    return;
  }
  const i32 = new Int32Array(d.memory.buffer); // the task block lies below the memory's size at start
  const at = d.block >> 2;
  const GEN = at + ${TASK.gen}, DONE = at + ${TASK.done}, OP = at + ${TASK.op}, THREADS = at + ${TASK.threads};
  let seen = d.gen;
  post({ ready: d.tid });
  for (;;) {
    let g = Atomics.load(i32, GEN);
    for (let i = 0; g === seen && i < d.spin; i++) g = Atomics.load(i32, GEN);
    while (g === seen) {
      Atomics.wait(i32, GEN, seen);
      g = Atomics.load(i32, GEN);
    }
    seen = g;
    if (i32[OP] === ${TASK.opExit}) break;
    try {
      instance.exports.runTask(d.tid);
    } catch (e) {
      Atomics.store(i32, at + ${TASK.failed}, d.tid);
      post({ error: String(e && e.stack || e) });
    }
    if (Atomics.add(i32, DONE, 1) + 1 === i32[THREADS] - 1) Atomics.notify(i32, DONE, 1);
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
      onMessage: (listener) =>
        worker.addEventListener('message', (e) => {
          URL.revokeObjectURL(url);
          listener(e.data);
        }),
      terminate: () => {
        URL.revokeObjectURL(url);
        worker.terminate();
      },
    };
  };
}

// Spins (atomic loads) before parking: enough to catch the next task of the same token (tens
// of µs), short enough that a parked helper leaves the core to the thread that has work.
const HELPER_SPIN = 20000;
const MAIN_SPIN = 20000;

export class TaskRunner {
  private readonly slots: number; // index of the task block in heap.i32
  private constructor(
    private readonly exports: EngineExports,
    readonly heap: EngineHeap,
    block: number,
    private readonly helpers: EngineThread[],
    private readonly canBlock: boolean,
  ) {
    this.slots = block >> 2;
  }

  /** Threads taking part in each task, the calling one included. */
  get threads(): number {
    return this.helpers.length + 1;
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

  /** Runs task `op` with `args` (slots from TASK.args) on every thread; returns when all are done. */
  run(op: number, args: readonly number[]): void {
    const i32 = this.heap.i32;
    const s = this.slots;
    i32[s + TASK.op] = op;
    i32[s + TASK.threads] = this.threads;
    for (let i = 0; i < args.length; i++) i32[s + TASK.args + i] = args[i]!;
    if (this.helpers.length === 0) {
      this.exports.runTask(0);
      return;
    }
    Atomics.store(i32, s + TASK.done, 0);
    Atomics.add(i32, s + TASK.gen, 1);
    Atomics.notify(i32, s + TASK.gen);
    this.exports.runTask(0);
    const want = this.helpers.length;
    let done = Atomics.load(i32, s + TASK.done);
    for (let i = 0; done < want && i < MAIN_SPIN; i++) done = Atomics.load(i32, s + TASK.done);
    while (done < want) {
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

  /** Stops the helpers (they exit their loop, then are terminated). */
  dispose(): void {
    if (this.helpers.length > 0) {
      const i32 = this.heap.i32;
      i32[this.slots + TASK.op] = TASK.opExit;
      Atomics.add(i32, this.slots + TASK.gen, 1);
      Atomics.notify(i32, this.slots + TASK.gen);
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
      const msg = m as { ready?: number; error?: string };
      if (msg.ready === tid) resolve();
      else if (msg.error) {
        console.error(`shrinkray engine thread ${tid}: ${msg.error}`);
        reject(new ShrinkrayError('runtime_error', `an engine thread could not start: ${msg.error}`));
      }
    });
    thread.postMessage({
      module,
      memory,
      tid,
      block,
      spin: HELPER_SPIN,
      gen: Atomics.load(new Int32Array(memory.buffer), (block >> 2) + TASK.gen),
    });
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

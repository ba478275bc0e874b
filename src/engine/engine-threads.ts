import { serializeError, ShrinkrayError, toShrinkrayError } from '../errors.ts';
import { POOL_START_TIMEOUT_MS } from '../kernels/worker-pool.ts';
import { TASK } from './task-layout.ts';

/**
 * The CPU engine's helper threads and the program they run. A thread is started once per
 * worker (or process) and kept: when an engine is disposed its helpers leave the engine's
 * loop and wait, idle, for the next engine, which attaches them to its own memory. Ending
 * nested workers is what the chat worker used to do at each model switch, and Firefox 153
 * stopped answering (timers stopped, once a page crashed) after 5 to 35 such switches.
 */

/** A worker as the engine needs it: the browser's Worker and Node's worker_threads both fit. */
export interface EngineThread {
  postMessage(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  terminate(): void;
}

/**
 * Starts a worker running `source` (plain JavaScript defining engineThread(data, post)), which
 * calls engineThread for each message it receives (one per engine it is attached to). Its
 * messages: { ready: tid }, { exited: tid }, or { error: SerializedShrinkrayError } (from the
 * thread, or from the spawner when the worker itself fails: its 'error' event, its early end).
 */
export type EngineThreadSpawner = (source: string) => EngineThread;

export const PART_BITS = 20;
export const PART_MASK = (1 << PART_BITS) - 1;

/**
 * One attachment of a helper to an engine: instantiate on the engine's shared memory, report
 * ready, then wait on the ticket; claim parts while it carries a new generation (the task's
 * arguments are read by runTask after each successful claim: the task cannot change while a
 * part of it is unfinished), count each part done, wake the main thread after the last. A trap
 * in a kernel marks the task block and still counts the part, so the main thread wakes and
 * reports it. The exit op ends the attachment (the memory is let go) and the thread waits for
 * the next. Errors leave as SerializedShrinkrayError (src/errors.ts), written out here: the
 * program is plain JavaScript with no imports.
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
      Atomics.wait(i32, TICKET, seen, 1000); // wakes each second to look again: a wake-up lost costs a second, not the thread
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

let browserSpawner: EngineThreadSpawner | undefined;

/**
 * The spawner over the browser's Worker (a blob: URL, so no file is served for it), or null
 * where there is none. One spawner per realm, so its threads are pooled (helperThreadsFor).
 */
export function browserThreadSpawner(): EngineThreadSpawner | null {
  if (typeof Worker === 'undefined' || typeof Blob === 'undefined') return null;
  return (browserSpawner ??= (source) => {
    const glue = `${source}\nself.onmessage = (e) => { engineThread(e.data, (m) => self.postMessage(m)); };`;
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
  });
}

// Spins (atomic loads) before parking, kept short on purpose (thread-pool.ts says why).
const HELPER_SPIN = 64;

/** A pooled thread: its one message listener forwards to whoever holds it now. */
export interface HelperThread {
  readonly thread: EngineThread;
  listener: (message: { ready?: number; exited?: number; error?: unknown }) => void;
}

/** The engine's memory a helper is attached to. */
export interface EngineMemory {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  block: number; // the task block's byte address
}

/**
 * The helper threads of one spawner: idle ones are attached to the next engine, more are
 * started when it needs more. Each start and each leave is bounded by POOL_START_TIMEOUT_MS.
 */
export class HelperThreads {
  private idle: HelperThread[] = [];
  private leaving: Promise<HelperThread | null>[] = [];
  /** Threads started so far (a test checks that a second engine started none). */
  started = 0;

  constructor(
    private readonly spawner: EngineThreadSpawner,
    private readonly timeoutMs = POOL_START_TIMEOUT_MS,
  ) {}

  /** Attaches `count` helpers (tids 1..count) to an engine's memory; resolves once each is parked on its ticket. */
  async attach(count: number, engine: EngineMemory): Promise<HelperThread[]> {
    for (const h of await Promise.all(this.leaving.splice(0))) if (h) this.idle.push(h);
    const helpers = Array.from({ length: count }, () => this.idle.pop() ?? this.spawn());
    try {
      await Promise.all(helpers.map((h, i) => this.start(h, i + 1, engine)));
    } catch (e) {
      for (const h of helpers) h.thread.terminate(); // a half-started crew is not reused
      throw e;
    }
    return helpers;
  }

  /** Takes back helpers whose engine has written the exit op: each is idle again once it says it left. */
  detach(helpers: readonly HelperThread[]): void {
    for (const h of helpers) {
      this.leaving.push(
        new Promise((resolve) => {
          const timer = this.bound(() => {
            h.thread.terminate(); // it never left the engine's loop: not reusable
            resolve(null);
          });
          h.listener = (m) => {
            if (m.error) logThreadError(m.error);
            if (m.exited === undefined) return;
            clearTimeout(timer);
            resolve(h);
          };
        }),
      );
    }
  }

  private spawn(): HelperThread {
    const thread = this.spawner(ENGINE_THREAD_SOURCE);
    this.started++;
    const h: HelperThread = { thread, listener: () => undefined };
    thread.onMessage((m) => h.listener(m as Parameters<HelperThread['listener']>[0]));
    return h;
  }

  private start(h: HelperThread, tid: number, engine: EngineMemory): Promise<void> {
    return new Promise((resolve, reject) => {
      const seconds = Math.round(this.timeoutMs / 100) / 10;
      const timer = this.bound(() => reject(new ShrinkrayError('timeout', `engine thread ${tid} did not start within ${seconds} s`)));
      h.listener = (m) => {
        if (m.ready === tid) {
          clearTimeout(timer);
          h.listener = (later) => void (later.error && logThreadError(later.error, tid));
          resolve();
        } else if (m.error) {
          // Before 'ready' this rejects the start; after, run() has already thrown (it cannot wait
          // for a message) and this tells the console what the thread met.
          clearTimeout(timer);
          const e = logThreadError(m.error, tid);
          reject(new ShrinkrayError(e.code, `engine thread ${tid} could not start: ${e.message}`, { cause: e }));
        }
      };
      const ticket = Atomics.load(new Int32Array(engine.memory.buffer), (engine.block >>> 2) + TASK.ticket);
      h.thread.postMessage({ module: engine.module, memory: engine.memory, tid, block: engine.block, spin: HELPER_SPIN, ticket });
    });
  }

  /** A timer that does not keep Node's process alive (the CLI ends while helpers are idle). */
  private bound(then: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(then, this.timeoutMs);
    (timer as { unref?: () => void }).unref?.();
    return timer;
  }
}

function logThreadError(error: unknown, tid?: number): ShrinkrayError {
  const e = toShrinkrayError(error);
  console.error(`shrinkray engine thread${tid === undefined ? '' : ` ${tid}`}: ${e.stack ?? e.message}`);
  return e;
}

const pools = new WeakMap<EngineThreadSpawner, HelperThreads>();

/** The one pool of `spawner`'s threads in this realm. */
export function helperThreadsFor(spawner: EngineThreadSpawner): HelperThreads {
  let pool = pools.get(spawner);
  if (!pool) pools.set(spawner, (pool = new HelperThreads(spawner)));
  return pool;
}

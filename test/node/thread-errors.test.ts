import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWasm } from '../../scripts/build-wasm.ts';
import { createEngineInstance } from '../../src/engine/cpu-model-loader.ts';
import { helperThreadsFor, HelperThreads, PART_MASK, type EngineThreadSpawner } from '../../src/engine/engine-threads.ts';
import { TASK } from '../../src/engine/task-layout.ts';
import { TaskRunner } from '../../src/engine/thread-pool.ts';
import { deserializeError, serializeError, ShrinkrayError, toShrinkrayError } from '../../src/errors.ts';
import type { CalibPool } from '../../src/kernels/calib/wasm/calib-pool.ts';
import { createCalibPool } from '../../src/kernels/calib/wasm/calib-pool.ts';
import type { QuantizePool } from '../../src/kernels/quantize/wasm/quantize-pool.ts';
import { createCalibPoolNode } from '../../src/node/calib-pool-node.ts';
import { engineModulesNode, nodeThreadSpawner } from '../../src/node/engine-node.ts';
import { GuardedTokenizer } from '../../src/node/guarded-tokenizer.ts';
import { readQuantizeWasm } from '../../src/node/kernel-wasm-node.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { nodePoolWorker } from '../../src/node/pool-worker-node.ts';
import { createQuantizePoolNode } from '../../src/node/quantize-pool-node.ts';
import { createWorkerPool, type PoolReply, type PoolWorker } from '../../src/kernels/worker-pool.ts';
import type { TokenizerParts } from '../../src/runtime/runnable-model.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { STORIES_DIR } from './fixture-paths.ts';

/**
 * A ShrinkrayError raised on another thread arrives whole, with its own code: from a quantize
 * or calibration pool worker, an engine thread and the CLI's tokenizer thread, through the one
 * serialisation in src/errors.ts. Before it, the pools and the tokenizer sent strings and the
 * calibration pool called every failure a runtime_error.
 */
describe('the serialisation every channel uses', () => {
  it('keeps code, message, stack and the cause as text, as plain data structured clone keeps', () => {
    const e = new ShrinkrayError('bad_recipe', "'gptq-int9': no such step", { cause: new RangeError('bits 9') });
    const s = serializeError(e);
    expect(structuredClone(s)).toEqual(s);
    const back = deserializeError(structuredClone(s), 'in a worker');
    expect(back).toBeInstanceOf(ShrinkrayError);
    expect(back).toMatchObject({ code: 'bad_recipe', message: "in a worker: 'gptq-int9': no such step" });
    expect((back.cause as Error).message).toBe('bits 9');
    expect(back.stack).toContain('(in worker)');
  });

  it('a code this build does not know reads as runtime_error; a serialized error thrown as is is recognised', () => {
    expect(deserializeError({ kind: 'shrinkray-error', code: 'no_such_code' as never, message: 'm' }).code).toBe('runtime_error');
    expect(toShrinkrayError(serializeError(new ShrinkrayError('quota_exceeded', 'full')))).toMatchObject({ code: 'quota_exceeded' });
  });
});

describe('kernel pool workers', () => {
  let quantize: QuantizePool;
  let calib: CalibPool;
  beforeAll(async () => {
    ensureWasm();
    [quantize, calib] = await Promise.all([createQuantizePoolNode(2), createCalibPoolNode(2)]);
  });
  afterAll(() => {
    quantize.close();
    calib.close();
  });

  it("a quantize worker's bad_argument (a NaN weight) stays bad_argument, naming the row and block", async () => {
    const w = new Float32Array(8 * 64).fill(0.5);
    w[5 * 64 + 40] = NaN;
    await expectShrinkrayError(
      quantize.quantizeRtn(w, 8, 64, { bits: 4, blockSize: 32, symmetric: true, scaleDtype: 'f32' }),
      'bad_argument',
      /row 5.*block 1|block 1.*row 5/,
    );
  });

  it("a calibration worker's bad_argument (an input shorter than its shape) stays bad_argument", async () => {
    await expectShrinkrayError(
      calib.gram(new Float32Array(10), null, 4, 8),
      'bad_argument',
      'calib.wasm: x [4, 8] needs 32 values, got 10',
    );
  });

  it('a worker that cannot start: the pool does not start, and says which pool and why', async () => {
    const notCalib = (await engineModulesNode()).single; // it imports a memory calib.wasm's loader does not give
    const entry = new URL('../../src/node/calib-worker-node.ts', import.meta.url);
    await expectShrinkrayError(
      createCalibPool(notCalib, [nodePoolWorker(entry, { unref: true })]),
      'runtime_error',
      /^calibration worker failed to start: calib\.wasm: could not instantiate/,
    );
  });
});

describe('engine threads', () => {
  it("a thread that cannot start rejects the runner's start with the thread's own error", async () => {
    const modules = await engineModulesNode();
    const { heap, exports } = await createEngineInstance(modules, true);
    // A module that is not the engine's: the thread instantiates it on the shared heap, then finds no setTaskBlock.
    const other = await WebAssembly.compile(await readQuantizeWasm());
    const error = await expectShrinkrayError(TaskRunner.create(exports, heap, other, 2, nodeThreadSpawner), 'runtime_error');
    expect(error.message).toMatch(/^engine thread 1 could not start: (LinkError|TypeError|CompileError)/);
  });

  it('a thread that never answers fails the start with a timeout naming it', async () => {
    const { heap, module } = await createEngineInstance(await engineModulesNode(), true);
    // A real thread whose program ignores what it is sent (a nested worker a browser left unstarted).
    const silent: EngineThreadSpawner = () => nodeThreadSpawner('async function engineThread() {}');
    await expectShrinkrayError(
      new HelperThreads(silent, 300).attach(1, { module, memory: heap.memory, block: heap.alloc(TASK.blockBytes, 'the task block') }),
      'timeout',
      'engine thread 1 did not start within 0.3 s',
    );
  });

  it('a helper that takes a part and never finishes it fails the task with a timeout instead of a wait without end', async () => {
    const { heap, exports, module } = await createEngineInstance(await engineModulesNode(), true);
    // A real thread that says ready, then takes the first part left of any task and holds it (a
    // helper stopped by the browser while it held a part). It spins until a part is left to take.
    const holder = `async function engineThread(d, post) {
      const i32 = new Int32Array(d.memory.buffer), at = d.block >>> 2;
      post({ ready: d.tid });
      for (;;) {
        const t = Atomics.load(i32, at + ${TASK.ticket});
        if ((t & ${PART_MASK}) < Atomics.load(i32, at + ${TASK.parts}) && Atomics.compareExchange(i32, at + ${TASK.ticket}, t, t + 1) === t) break;
      }
      for (;;) Atomics.wait(i32, at + ${TASK.failed}, 0);
    }`;
    const spawner: EngineThreadSpawner = () => nodeThreadSpawner(holder);
    // The calling thread takes parts too, and an empty product's eight parts take it a microsecond:
    // under load the holder could miss every task's window, and this loop, which never yields, would
    // spin for ever (it did, in a CI run). So each part the calling thread runs first sleeps 2 ms
    // (blocked, its core free): the parts it has not taken stay open to the holder for that long.
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const slowed = {
      ...exports,
      runTask: (part: number, parts: number) => {
        Atomics.wait(nap, 0, 0, 2);
        exports.runTask(part, parts);
      },
    };
    const runner = await TaskRunner.create(slowed, heap, module, 2, spawner, 300);
    // Tasks go out until one fails; a bound, in case the holder never takes a part at all.
    let error: unknown;
    const until = Date.now() + 60_000;
    while (error === undefined && Date.now() < until) {
      try {
        runner.run(TASK.opGemm, [0]);
      } catch (e) {
        error = e;
      }
    }
    expect(error).toBeInstanceOf(ShrinkrayError);
    expect(error).toMatchObject({ code: 'timeout' });
    expect((error as Error).message).toMatch(
      /^CPU engine: 1 of the 8 parts of a task that helper threads took did not finish within 0\.3 s \(a helper thread stopped\)/,
    );
  });

  it('helpers outlive their engine: the next one attaches the idle threads and starts only the extra it needs', async () => {
    const modules = await engineModulesNode();
    const pool = helperThreadsFor(nodeThreadSpawner);
    const runner = async (threads: number) => {
      const { heap, exports, module } = await createEngineInstance(modules, true);
      return TaskRunner.create(exports, heap, module, threads, nodeThreadSpawner);
    };
    const first = await runner(3);
    const started = pool.started;
    first.dispose();
    const second = await runner(3);
    expect(second.threads).toBe(3);
    expect(pool.started).toBe(started);
    second.dispose();
    const third = await runner(4);
    expect(pool.started).toBe(started + 1);
    third.dispose();
  });
});

describe("the CLI's tokenizer thread", () => {
  let parts: TokenizerParts;
  beforeAll(async () => {
    const m = await loadModelFolder(STORIES_DIR);
    parts = {
      tokenizerJson: m.tokenizerJson,
      tokenizerConfig: m.tokenizerConfig,
      config: m.ir.config,
      generationConfig: null,
      names: {
        tokenizer: 'stories/tokenizer.json',
        tokenizerConfig: 'stories/tokenizer_config.json',
        chatTemplate: 'stories/tokenizer_config.json',
        config: 'stories/config.json',
        generationConfig: 'stories/generation_config.json',
      },
    };
  });

  it("a call's bad_argument (no chat template) arrives as bad_argument", async () => {
    const t = await GuardedTokenizer.create(parts);
    try {
      expect(t.hasChatTemplate).toBe(false);
      expectShrinkrayError(() => t.applyChatTemplate([{ role: 'user', content: 'hi' }]), 'bad_argument', /has no chat_template/);
      expect(t.encode('Once upon a time').length).toBeGreaterThan(1); // the thread goes on serving
    } finally {
      await t.dispose();
    }
  });

  it('a tokenizer.json that does not load is a bad_file naming it', async () => {
    await expectShrinkrayError(
      GuardedTokenizer.create({ ...parts, tokenizerJson: { model: { type: 'NoSuchModel' } } }),
      'bad_file',
      /^stories\/tokenizer\.json could not be loaded/,
    );
  });
});

describe('a pool worker that never starts', () => {
  it('fails the pool with a timeout naming the worker, within the bound, and the thread is ended', async () => {
    // A real thread that loads but never answers 'ready' (as a nested worker left unstarted would).
    const thread = new Worker('setInterval(() => {}, 60_000);', { eval: true });
    let ended = false;
    thread.on('exit', () => (ended = true));
    const silent: PoolWorker<{ type: 'init' }, PoolReply<object>> = {
      postMessage: (m) => thread.postMessage(m),
      onMessage: (h) => thread.on('message', h),
      terminate: () => void thread.terminate(),
    };
    const module = await WebAssembly.compile(await readQuantizeWasm());
    const t0 = performance.now();
    await expectShrinkrayError(
      createWorkerPool('quantize', module, [silent], 300),
      'timeout',
      'quantize worker 0 did not start within 0.3 s',
    );
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    await expect.poll(() => ended).toBe(true);
  });
});

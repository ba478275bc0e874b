import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { deserializeError, isShrinkrayError, ShrinkrayError, toShrinkrayError } from '../errors.ts';
import type { TokenizerParts } from '../runtime/runnable-model.ts';
import { TOKENIZER_BUDGET } from '../runtime/tokenizer-budget.ts';
import type { ChatMessage, DecodeOptions, ModelTokenizer } from '../runtime/tokenizer.ts';
import { tsWorkerBootstrap } from './ts-worker.ts';
import type { TokenizerReady, TokenizerReply, TokenizerRequest } from './tokenizer-worker-node.ts';

/**
 * The CLI's tokenizer, run on a worker thread and called synchronously: each call posts a
 * request, then blocks on a shared flag (Atomics.wait) for at most `callMs`. A regular
 * expression from tokenizer.json that backtracks without end cannot be stopped on its own
 * thread, but its thread can be terminated: the call then fails with a 'bad_file' error
 * naming tokenizer.json (or the template's file), and the process goes on to exit cleanly.
 * The worker's heap is capped too (`heapMb`), so a tokenizer that eats memory dies alone.
 */
export interface GuardOptions {
  callMs?: number;
  heapMb?: number;
}

const POLL_MS = 50; // how often a wait checks that the worker is still alive

/** The environment variable that sets the CLI's per-call budget in milliseconds (README "Command line"). */
export const TOKENIZER_MS_VARIABLE = 'SHRINKRAY_TOKENIZER_MS';

/**
 * The per-call budget: TOKENIZER_BUDGET.callMs, or SHRINKRAY_TOKENIZER_MS where it is set (a slow
 * machine may want more; the tests that wait out a hung tokenizer set 1000 rather than spin 10 s).
 */
export function tokenizerCallMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[TOKENIZER_MS_VARIABLE];
  if (raw === undefined || raw === '') return TOKENIZER_BUDGET.callMs;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 100 || ms > 3_600_000) {
    throw new ShrinkrayError(
      'bad_argument',
      `${TOKENIZER_MS_VARIABLE} must be a whole number of milliseconds from 100 to 3600000, got '${raw}'`,
    );
  }
  return ms;
}

export class GuardedTokenizer implements ModelTokenizer {
  private broken: ShrinkrayError | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly flag: Int32Array,
    private readonly parts: TokenizerParts,
    private readonly callMs: number,
    private readonly heapMb: number,
    readonly bosTokenId: number | null,
    readonly eosTokenIds: number[],
    readonly hasChatTemplate: boolean,
  ) {}

  /** Starts the worker and builds the tokenizer there; its errors (a bad tokenizer.json) come back whole. */
  static async create(parts: TokenizerParts, o: GuardOptions = {}): Promise<GuardedTokenizer> {
    const callMs = o.callMs ?? tokenizerCallMs();
    const heapMb = o.heapMb ?? 1024;
    const { port1, port2 } = new MessageChannel();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(tsWorkerBootstrap(new URL('./tokenizer-worker-node.ts', import.meta.url)), {
      eval: true,
      workerData: { parts, port: port2, flag },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
    });
    worker.unref(); // a CLI run ends when its work does, whatever this thread is doing
    const ready = await new Promise<TokenizerReady | TokenizerReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) =>
        reject(new ShrinkrayError('bad_file', `${parts.names.tokenizer}: the tokenizer's thread stopped while loading (exit ${code})`)),
      );
    }).catch(async (e: unknown) => {
      await worker.terminate();
      // (an error the thread threw arrives as Node cloned it: a ShrinkrayError by name and code, not by class)
      throw isShrinkrayError(e)
        ? toShrinkrayError(e)
        : new ShrinkrayError('bad_file', `${parts.names.tokenizer} could not be loaded: ${(e as Error).message}`, { cause: e });
    });
    worker.removeAllListeners();
    worker.on('error', () => undefined); // an out-of-memory end is reported by the call that waits on it
    if (!ready.ok) {
      await worker.terminate();
      throw deserializeError(ready.error);
    }
    const r = ready as TokenizerReady;
    return new GuardedTokenizer(worker, port1, flag, parts, callMs, heapMb, r.bosTokenId, r.eosTokenIds, r.hasChatTemplate);
  }

  encode(text: string, opts: { addBos?: boolean } = {}): number[] {
    return this.call(
      { op: 'encode', text, addBos: opts.addBos },
      this.parts.names.tokenizer,
      `encoding a text of ${text.length} characters`,
    ) as number[];
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return this.call(
      { op: 'decode', ids: [...ids], opts: { ...opts } },
      this.parts.names.tokenizer,
      `decoding ${ids.length} tokens`,
    ) as string;
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    const request: TokenizerRequest = {
      op: 'template',
      messages: messages.map((m) => ({ ...m })),
      addGenerationPrompt: opts.addGenerationPrompt,
    };
    return this.call(request, this.parts.names.chatTemplate, 'rendering the chat template') as string;
  }

  /** Stops the worker thread. */
  async dispose(): Promise<void> {
    this.broken ??= new ShrinkrayError('bad_argument', 'the tokenizer was disposed');
    await this.worker.terminate();
  }

  private call(request: TokenizerRequest, file: string, what: string): unknown {
    if (this.broken) throw this.broken;
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(request);
    const deadline = performance.now() + this.callMs;
    // The flag, not the wait's answer, says a reply is there: a wake-up can be the previous
    // call's notify, which the thread makes just after setting the flag and may be late with.
    while (Atomics.wait(this.flag, 0, 0, POLL_MS) === 'timed-out' || Atomics.load(this.flag, 0) === 0) {
      // threadId turns -1 as soon as the thread has ended, before any event is delivered.
      const died = this.worker.threadId === -1;
      if (!died && performance.now() < deadline) continue;
      void this.worker.terminate();
      this.broken = new ShrinkrayError(
        'bad_file',
        died
          ? `${file}: ${what} ran out of the tokenizer's ${this.heapMb} MB of memory; the tokenizer was stopped`
          : `${file}: ${what} did not finish within ${this.callMs} ms (a regular expression that backtracks without end?); the tokenizer was stopped`,
      );
      throw this.broken;
    }
    const reply = receiveMessageOnPort(this.port)?.message as TokenizerReply | undefined;
    if (!reply) throw new ShrinkrayError('runtime_error', `${file}: the tokenizer's thread answered nothing`);
    if (!reply.ok) throw deserializeError(reply.error);
    return reply.value;
  }
}

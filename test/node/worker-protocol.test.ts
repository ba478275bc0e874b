import * as Comlink from 'comlink';
import { MessageChannel as NodeMessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { ShrinkrayError, type ShrinkrayErrorCode } from '../../src/errors.ts';
import { cancelPortFor, nextEventTurn, serialQueue, signalFromPort } from '../../src/worker/cancel.ts';
import { deserializeError, registerErrorTransfer, serializeError, toShrinkrayError } from '../../src/worker/errors.ts';
import type {
  CalibrationRequest,
  CancelPort,
  ChatWorkerApi,
  CompressWorkerApi,
  Progress,
  StoredModelInfo,
} from '../../src/worker/protocol.ts';

/**
 * The protocol's pieces without a browser: ShrinkrayError crossing a real comlink channel
 * whole, foreign errors mapped to codes, the cancel port turning an abort into a signal on
 * the other side, and the remote API's types as the page sees them.
 */
const ports: { close(): void }[] = [];
afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

function connect<T>(api: T): Comlink.Remote<T> {
  const { port1, port2 } = new NodeMessageChannel();
  ports.push(port1, port2);
  Comlink.expose(api, port1 as unknown as Comlink.Endpoint);
  return Comlink.wrap<T>(port2 as unknown as Comlink.Endpoint);
}

describe('errors across comlink', () => {
  registerErrorTransfer();

  it('a ShrinkrayError arrives as a ShrinkrayError with its code, message and cause message', async () => {
    const remote = connect({
      fail(code: ShrinkrayErrorCode): void {
        throw new ShrinkrayError(code, 'model.safetensors: sha-256 mismatch: expected aa, got bb', {
          cause: new TypeError('the root cause'),
        });
      },
    });
    const e = await remote.fail('bad_file').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ShrinkrayError);
    expect(e).toMatchObject({
      name: 'ShrinkrayError',
      code: 'bad_file',
      message: 'model.safetensors: sha-256 mismatch: expected aa, got bb',
    });
    expect(((e as Error).cause as Error).message).toBe('the root cause');
    expect((e as Error).stack).toMatch(/\(in worker\)/);
  });

  it('foreign errors become ShrinkrayErrors with the closest code', async () => {
    const remote = connect({
      dom(name: string): void {
        throw new DOMException('it went wrong', name);
      },
      plain(): void {
        throw new RangeError('offset out of bounds');
      },
      text(): void {
        throw 'a string';
      },
    });
    await expect(remote.dom('AbortError')).rejects.toMatchObject({ code: 'aborted', message: 'it went wrong' });
    await expect(remote.dom('QuotaExceededError')).rejects.toMatchObject({
      code: 'quota_exceeded',
      message: 'storage is full: it went wrong',
    });
    await expect(remote.plain()).rejects.toMatchObject({ code: 'runtime_error', message: 'RangeError: offset out of bounds' });
    await expect(remote.text()).rejects.toMatchObject({ code: 'runtime_error', message: 'a string' });
  });

  it('serializes to plain data that structured clone keeps', () => {
    const s = serializeError(new ShrinkrayError('quota_exceeded', 'full', { cause: 'disk' }));
    expect(structuredClone(s)).toEqual(s);
    expect(s).toMatchObject({ kind: 'shrinkray-error', code: 'quota_exceeded', message: 'full', cause: 'disk' });
    expect(deserializeError(s)).toMatchObject({ code: 'quota_exceeded', message: 'full' });
    const same = new ShrinkrayError('bad_file', 'x');
    expect(toShrinkrayError(same)).toBe(same);
  });
});

describe('cancel ports', () => {
  it('an abort on the client side fires the signal on the worker side, with the reason', async () => {
    const ac = new AbortController();
    const { port, done } = cancelPortFor(ac.signal);
    const { signal, close } = signalFromPort(port);
    expect(signal.aborted).toBe(false);
    ac.abort(new Error('stop button'));
    while (!signal.aborted) await nextEventTurn();
    expect(signal.reason).toMatchObject({ code: 'aborted', message: 'cancelled: stop button' });
    done();
    close();
  });

  it('a signal already aborted cancels at once; no signal means no port', async () => {
    const { port, done } = cancelPortFor(AbortSignal.abort('before the call'));
    const { signal, close } = signalFromPort(port);
    while (!signal.aborted) await nextEventTurn();
    done();
    close();
    expect(cancelPortFor(undefined).port).toBeUndefined();
    expect(signalFromPort(undefined).signal.aborted).toBe(false);
  });

  it('a long remote call sees the abort through a transferred port', async () => {
    const remote = connect({
      async spin(port: CancelPort, spinning: () => void): Promise<number> {
        const { signal, close } = signalFromPort(port);
        void spinning();
        let turns = 0;
        while (!signal.aborted) {
          turns++;
          await nextEventTurn();
        }
        close();
        return turns;
      },
    });
    const ac = new AbortController();
    const { port, done } = cancelPortFor(ac.signal);
    let spinning!: () => void;
    const started = new Promise<void>((resolve) => (spinning = resolve));
    const call = remote.spin(
      Comlink.transfer(port!, [port!]),
      Comlink.proxy(() => spinning()),
    );
    await started; // the remote loop runs: the abort reaches it only through the port
    ac.abort();
    expect(await call).toBeGreaterThan(0);
    done();
  });
});

describe('serialQueue', () => {
  it('runs calls one at a time in order; a failure does not stop the next', async () => {
    const serial = serialQueue();
    const log: string[] = [];
    const step = (name: string, fail = false) =>
      serial(async () => {
        log.push(`${name} start`);
        await nextEventTurn();
        log.push(`${name} end`);
        if (fail) throw new ShrinkrayError('runtime_error', name);
        return name;
      });
    const results = await Promise.allSettled([step('a'), step('b', true), step('c')]);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});

describe('the remote API types', () => {
  it('every method returns a promise, and callbacks are plain functions', () => {
    expectTypeOf<Comlink.Remote<CompressWorkerApi>['list']>().returns.resolves.toEqualTypeOf<StoredModelInfo[]>();
    expectTypeOf<CompressWorkerApi['compress']>().parameter(2).toEqualTypeOf<((p: Progress) => void) | undefined>();
    expectTypeOf<ChatWorkerApi['generate']>().parameter(2).toEqualTypeOf<CancelPort | undefined>();
    expectTypeOf<Progress['stage']>().toEqualTypeOf<
      'download' | 'prepare' | 'calibrate' | 'compress' | 'write' | 'load' | 'perplexity' | 'import' | 'export'
    >();
    expectTypeOf<CompressWorkerApi['compress']>().parameter(4).toEqualTypeOf<CalibrationRequest | undefined>();
  });
});

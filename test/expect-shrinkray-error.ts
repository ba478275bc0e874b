import { expect } from 'vitest';
import { isShrinkrayError, ShrinkrayError, type ShrinkrayErrorCode } from '../src/errors.ts';

/**
 * Asserts that `subject` fails with a ShrinkrayError (a real instance, as it must arrive even
 * across the worker boundary) of `code`, whose message equals `message` (a string) or
 * matches it (a RegExp); returns the error for further checks.
 * - a promise, or a function returning one: resolves to the error;
 * - a function that throws synchronously: returns the error at once, so sync tests stay sync.
 */
export function expectShrinkrayError(
  subject: PromiseLike<unknown> | (() => PromiseLike<unknown>),
  code: ShrinkrayErrorCode,
  message?: string | RegExp,
): Promise<ShrinkrayError>;
export function expectShrinkrayError(subject: () => unknown, code: ShrinkrayErrorCode, message?: string | RegExp): ShrinkrayError;
export function expectShrinkrayError(
  subject: PromiseLike<unknown> | (() => unknown),
  code: ShrinkrayErrorCode,
  message?: string | RegExp,
): ShrinkrayError | Promise<ShrinkrayError> {
  let outcome: unknown = subject;
  if (typeof subject === 'function') {
    try {
      outcome = subject();
    } catch (e) {
      return check(e, code, message);
    }
  }
  if (!isThenable(outcome)) throw new Error(`expected a ShrinkrayError '${code}', but the call returned ${String(outcome)}`);
  return Promise.resolve(outcome).then(
    (value) => {
      throw new Error(`expected a ShrinkrayError '${code}', but the promise resolved to ${String(value)}`);
    },
    (e: unknown) => check(e, code, message),
  );
}

function check(e: unknown, code: ShrinkrayErrorCode, message: string | RegExp | undefined): ShrinkrayError {
  expect(e, `expected a ShrinkrayError '${code}', got ${String(e)}`).toBeInstanceOf(ShrinkrayError);
  expect(isShrinkrayError(e)).toBe(true);
  const err = e as ShrinkrayError;
  expect(err.code, err.message).toBe(code);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else if (message) expect(err.message).toMatch(message);
  return err;
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (typeof x === 'object' || typeof x === 'function') && x !== null && typeof (x as PromiseLike<unknown>).then === 'function';
}

import { describe, expect, it } from 'vitest';
import { ShrinkrayError } from '../../src/errors.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/** The shared helper itself: it passes only on the right error, so the tests using it can fail. */

const bad = new ShrinkrayError('bad_file', 'model.safetensors: truncated at byte 12');
const throwing = (): never => {
  throw bad;
};

describe('expectShrinkrayError', () => {
  it('returns the error: at once for a throwing function, through the promise otherwise', async () => {
    expect(expectShrinkrayError(throwing, 'bad_file', /truncated/)).toBe(bad);
    expect(await expectShrinkrayError(Promise.reject(bad), 'bad_file', 'model.safetensors: truncated at byte 12')).toBe(bad);
    expect(await expectShrinkrayError(async () => throwing(), 'bad_file')).toBe(bad);
  });

  it('fails on another code, another message, a plain Error, or no failure at all', async () => {
    expect(() => expectShrinkrayError(throwing, 'missing_file')).toThrow(/expected 'bad_file' to be 'missing_file'/);
    expect(() => expectShrinkrayError(throwing, 'bad_file', /past the end/)).toThrow();
    expect(() => expectShrinkrayError(throwing, 'bad_file', 'truncated')).toThrow();
    expect(() =>
      expectShrinkrayError(() => {
        throw new Error('plain');
      }, 'bad_file'),
    ).toThrow(/expected a ShrinkrayError 'bad_file', got Error: plain/);
    expect(() => expectShrinkrayError(() => 42, 'bad_file')).toThrow(/the call returned 42/);
    await expect(expectShrinkrayError(Promise.resolve('ok'), 'bad_file')).rejects.toThrow(/the promise resolved to ok/);
    // Shaped like one but not an instance: what an error loses when it crosses a worker boundary unhandled.
    const lookalike = Object.assign(new Error('x'), { name: 'ShrinkrayError', code: 'bad_file' });
    await expect(expectShrinkrayError(Promise.reject(lookalike), 'bad_file')).rejects.toThrow(/expected a ShrinkrayError/);
  });
});

import { describe, expect, it } from 'vitest';
import { BUSY_LOCK, whenIdle, whileBusy } from '../../src/pwa/busy-lock.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/**
 * The busy lock in a real browser's Web Locks: a job's calls nest (the page's job around the
 * client's call) and must not queue a second shared request behind an update's exclusive one,
 * which would wait for ever (it froze jobs in Firefox); joining the lock has a bound.
 */
describe('busy lock', () => {
  it('a nested call inside a running job goes on while an update waits for the job', async () => {
    const order: string[] = [];
    let update: Promise<void> | undefined;
    const job = whileBusy(async () => {
      update = whenIdle().then(() => void order.push('update'));
      await new Promise((ok) => setTimeout(ok, 50)); // the exclusive request is queued now
      const inner = await whileBusy(async () => 'inner ran');
      order.push(inner);
      return 'job done';
    });
    expect(await job).toBe('job done');
    await update;
    expect(order).toEqual(['inner ran', 'update']); // the update ran after the job, not before or never
  });

  it('joining the lock while an update holds it fails with a timeout naming the lock', async () => {
    let letGo!: () => void;
    const holding = new Promise<void>((held) => {
      void navigator.locks.request(BUSY_LOCK, { mode: 'exclusive' }, () => {
        held();
        return new Promise<void>((done) => (letGo = done));
      });
    });
    await holding;
    await expectShrinkrayError(
      whileBusy(async () => 'never', 300),
      'timeout',
      /waited 0 s for the Web Lock 'shrinkray:busy': an update of Shrinkray/,
    );
    letGo();
    // Once the update let go, jobs run again (the failed wait left nothing behind).
    expect(await whileBusy(async () => 'ran', 300)).toBe('ran');
  });
});

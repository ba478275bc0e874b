import { ShrinkrayError } from '../errors.ts';
import { POOL_START_TIMEOUT_MS } from '../kernels/worker-pool.ts';

/**
 * How long the page waits for a worker's first answer (its script fetched and evaluated, its
 * API exposed): twice a kernel pool's bound, as the script here is the whole worker bundle (in
 * development each of its modules is transformed on first request). A browser can leave a
 * worker unstarted without an error event (Firefox under load was seen to leave nested ones),
 * and without a bound every call would wait on it for good, behind a progress bar.
 */
export const WORKER_START_TIMEOUT_MS = 2 * POOL_START_TIMEOUT_MS;

/**
 * `first` (the worker's first call), or a 'timeout' ShrinkrayError naming the worker once
 * `timeoutMs` pass without its answer. The rejection is marked handled: it reaches whoever
 * awaits the result, and no one need be waiting yet.
 */
export function firstAnswer<T>(first: Promise<T>, worker: string, timeoutMs = WORKER_START_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const seconds = Math.round(timeoutMs / 100) / 10;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ShrinkrayError(
            'timeout',
            `the ${worker} worker did not answer within ${seconds} s of its start; reload the page to try again`,
          ),
        ),
      timeoutMs,
    );
  });
  const answer = Promise.race([first, bound]).finally(() => clearTimeout(timer));
  answer.catch(() => undefined);
  return answer;
}

import { probeScope, type WorkerProbe } from './capability-probe.ts';

/**
 * The probe worker of capabilities.ts: answers what a worker scope offers (the workers are
 * where models are compressed and run), and, started from the page, whether it can start a
 * module worker itself (a copy of this file named 'nested', which answers its scope only).
 */
const NESTED_WAIT_MS = 3_000;

function nestedAnswers(): Promise<boolean> {
  if (typeof Worker !== 'function') return Promise.resolve(false);
  return new Promise((done) => {
    let w: Worker;
    const timer = setTimeout(() => finish(false), NESTED_WAIT_MS);
    function finish(ok: boolean) {
      clearTimeout(timer);
      w?.terminate();
      done(ok);
    }
    try {
      w = new Worker(new URL('./capability-probe.worker.ts', import.meta.url), { type: 'module', name: 'nested' });
      w.onmessage = () => finish(true);
      w.onerror = (e) => {
        e.preventDefault(); // an answer (no nested workers), not an error for the page
        finish(false);
      };
    } catch {
      finish(false);
    }
  });
}

async function answer(): Promise<void> {
  const scope = probeScope();
  if (self.name === 'nested') return postMessage({ scope, nestedWorkers: false } satisfies WorkerProbe);
  postMessage({ scope, nestedWorkers: await nestedAnswers() } satisfies WorkerProbe);
}

void answer();

import { signal } from '@preact/signals';
import { isShrinkrayError, whileBusy, type Progress } from '../worker/client.ts';

/**
 * Long calls the page starts (download, import, compress, evaluate, export, a share link's model): one of each
 * kind at a time, each with its progress, its AbortController (the Cancel button) and how it
 * ended. Views read `jobs`; only runJob writes it.
 */
export type JobKind = 'download' | 'import' | 'compress' | 'evaluate' | 'export' | 'link';

export interface Job {
  kind: JobKind;
  title: string;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  progress?: Progress;
  startedAt: number;
  controller: AbortController;
  /** For failures: the error's message, shown as text. */
  message?: string;
}

export const jobs = signal<Partial<Record<JobKind, Job>>>({});

function update(kind: JobKind, patch: Partial<Job>): void {
  const job = jobs.value[kind];
  if (job) jobs.value = { ...jobs.value, [kind]: { ...job, ...patch } };
}

export function isRunning(kind: JobKind): boolean {
  return jobs.value[kind]?.status === 'running';
}

export function clearJob(kind: JobKind): void {
  const { [kind]: _gone, ...rest } = jobs.value;
  jobs.value = rest;
}

/** Runs `body` as the job of its kind; resolves undefined when it failed or was cancelled (the job says which). */
export async function runJob<T>(
  kind: JobKind,
  title: string,
  body: (o: { signal: AbortSignal; onProgress: (p: Progress) => void }) => Promise<T>,
): Promise<T | undefined> {
  if (isRunning(kind)) return undefined;
  const controller = new AbortController();
  jobs.value = { ...jobs.value, [kind]: { kind, title, status: 'running', startedAt: performance.now(), controller } };
  try {
    // The busy lock keeps the service worker from reloading the page under a running job.
    const result = await whileBusy(() => body({ signal: controller.signal, onProgress: (p) => update(kind, { progress: p }) }));
    update(kind, { status: 'done' });
    return result;
  } catch (e) {
    const cancelled = controller.signal.aborted || (isShrinkrayError(e) && e.code === 'aborted');
    update(kind, { status: cancelled ? 'cancelled' : 'failed', message: e instanceof Error ? e.message : String(e) });
    if (!cancelled && !isShrinkrayError(e)) console.warn(`shrinkray: ${title} failed`, e);
    return undefined;
  }
}

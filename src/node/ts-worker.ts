/**
 * The source of a worker_threads worker (run with `eval: true`) whose entry is TypeScript:
 * it registers tsx's loader inside the worker, then imports the entry. (Passing
 * `--import tsx` in execArgv does not reach worker threads on Node 20.) tsx is resolved
 * here, from this package, so the worker finds it whatever the cwd is.
 */
export function tsWorkerBootstrap(entry: URL): string {
  return `import(${JSON.stringify(resolveTsx())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
}

/** tsx's loader API; some module runners (Vitest's, its global setup's) have no working import.meta.resolve. */
function resolveTsx(): string {
  try {
    if (typeof import.meta.resolve === 'function') return import.meta.resolve('tsx/esm/api');
  } catch {
    // fall through: the bare name resolves from the working folder
  }
  return 'tsx/esm/api';
}

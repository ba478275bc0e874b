/**
 * The source of a worker_threads worker (run with `eval: true`) whose entry is TypeScript:
 * it registers tsx's loader inside the worker, then imports the entry. (Passing
 * `--import tsx` in execArgv does not reach worker threads on Node 20.) tsx is resolved
 * here, from this package, so the worker finds it whatever the cwd is.
 */
export function tsWorkerBootstrap(entry: URL): string {
  // (Under vitest import.meta.resolve may be missing; the bare name then resolves from the cwd.)
  const tsxApi = typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : 'tsx/esm/api';
  return `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
}

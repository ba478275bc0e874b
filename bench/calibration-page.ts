/**
 * The in-page half of bench/calibration-browser.ts: starts the bench worker with the query's
 * options and puts its messages in `window.benchLog`, its result in `window.benchResult`.
 */
import type { CalibrationBenchResult } from './calibration-bench.worker.ts';

const target = window as unknown as { benchResult?: CalibrationBenchResult | { error: string }; benchLog: string[] };
target.benchLog = [];
const q = new URLSearchParams(location.search);
const worker = new Worker(new URL('./calibration-bench.worker.ts', import.meta.url), { type: 'module', name: 'calibration-bench' });
worker.onmessage = (e: MessageEvent<{ log?: string; result?: CalibrationBenchResult; error?: string }>) => {
  if (e.data.log) target.benchLog.push(e.data.log);
  if (e.data.result) target.benchResult = e.data.result;
  if (e.data.error) target.benchResult = { error: e.data.error };
  document.getElementById('out')!.textContent = target.benchLog.join('\n');
};
worker.postMessage({
  recipe: q.get('recipe') ?? 'gptq-int4-g32',
  windows: Number(q.get('windows') ?? 32),
  layers: Number(q.get('layers') ?? 30),
  pool: Number(q.get('pool') ?? navigator.hardwareConcurrency),
});

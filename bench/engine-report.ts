/**
 * What the engine benchmarks share: how busy the machine is (other agents share its 2 cores:
 * figures are only comparable when it is idle), peak resident memory of a process from /proc,
 * and wllama's anchor results beside ours with the ratios the engine is asked to meet.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { EngineRowResult } from './engine-model.ts';

export interface Measured extends EngineRowResult {
  shape: string;
  engine: 'cpu' | 'onnx';
  recipe: string;
  busy: number; // % of the CPUs other processes used just before the row
  peakRss: number; // bytes
}

function cpuTimes(): { idle: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + f[4]!, total: f.reduce((a, b) => a + b, 0) };
}

/** Share of all CPUs busy over `ms`. */
export async function busyPercent(ms = 1000): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return 100 * (1 - (b.idle - a.idle) / Math.max(1, b.total - a.total));
}

/** Waits (up to maxS) until the CPUs are under 15% busy; returns the last reading. */
export async function waitForIdle(maxS: number): Promise<number> {
  let busy = await busyPercent();
  for (let waited = 0; busy > 15 && waited < maxS; waited += 5) {
    await new Promise((r) => setTimeout(r, 4000));
    busy = await busyPercent();
  }
  return busy;
}

/** Pids of the descendants of `root` whose command line contains `marker`. */
export function descendantsWith(root: number, marker: string): number[] {
  const parent = new Map<number, number>();
  const cmd = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      cmd.set(Number(name), readFileSync(`/proc/${name}/cmdline`, 'utf8'));
    } catch {
      // the process ended while we looked
    }
  }
  const isUnder = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  return [...cmd].filter(([pid, c]) => c.includes(marker) && isUnder(pid)).map(([pid]) => pid);
}

/** A process's peak resident set (VmHWM), in bytes; 0 when it is gone. */
export function peakRssBytes(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A process's current resident set (VmRSS), in bytes; 0 when it is gone. */
export function residentBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface WllamaResults {
  bandwidth?: { copy_GBps_median?: number };
  runs: {
    model: string;
    type: string;
    requested_threads: number;
    file_bytes?: number;
    busy_before_pct?: number;
    error?: string;
    median?: { prefill_tps: number; decode_tps: number };
  }[];
}

const WLLAMA_MODEL: Record<string, string> = { 'smollm2-135m': 'smollm2-135m-shape', 'qwen2.5-0.5b': 'qwen2.5-0.5b-shape' };

/** wllama's rows for our shapes, then each ratio the engine is asked to meet, per shape and thread count. */
export function wllamaRows(w: WllamaResults, ours: Measured[], copy: number): string[][] {
  const out: string[][] = [['shape', 'threads', 'compared', 'engine', 'other', 'ratio', 'asked', 'wllama copy GB/s vs ours']];
  const wbw = w.bandwidth?.copy_GBps_median ?? NaN;
  for (const shape of new Set(ours.map((r) => r.shape))) {
    for (const threads of new Set(ours.map((r) => r.threads))) {
      const find = (engine: string, recipe: string) =>
        ours.find((r) => r.shape === shape && r.engine === engine && r.recipe === recipe && r.threads === threads);
      const wl = (type: string) =>
        w.runs.find((r) => r.model === WLLAMA_MODEL[shape] && r.type === type && r.requested_threads === threads && !r.error)?.median;
      const rows: [string, number | undefined, number | undefined, string][] = [
        ['decode: engine int4-g32 / onnx fp32', find('cpu', 'int4-g32')?.decodeTokS, find('onnx', 'fp32')?.decodeTokS, '>= 2'],
        ['decode: engine int4-g32 / wllama Q4_0', find('cpu', 'int4-g32')?.decodeTokS, wl('Q4_0')?.decode_tps, '>= 3'],
        ['decode: engine int8 / onnx fp32', find('cpu', 'int8')?.decodeTokS, find('onnx', 'fp32')?.decodeTokS, '>= 1.5'],
        ['decode: engine int8 / wllama Q8_0', find('cpu', 'int8')?.decodeTokS, wl('Q8_0')?.decode_tps, ''],
        ['decode: wllama F32 / onnx fp32', wl('F32')?.decode_tps, find('onnx', 'fp32')?.decodeTokS, ''],
        ['prefill: engine int4-g32 / onnx fp32', find('cpu', 'int4-g32')?.prefillTokS, find('onnx', 'fp32')?.prefillTokS, '>= 1'],
        ['prefill: engine int4-g32 / wllama Q4_0', find('cpu', 'int4-g32')?.prefillTokS, wl('Q4_0')?.prefill_tps, ''],
      ];
      for (const [what, a, b, asked] of rows) {
        if (a === undefined || b === undefined) continue;
        out.push([
          shape,
          String(threads),
          what,
          a.toFixed(2),
          b.toFixed(2),
          (a / b).toFixed(2),
          asked,
          `${wbw.toFixed(2)} vs ${(copy / 1e9).toFixed(2)}`,
        ]);
      }
    }
  }
  return out;
}

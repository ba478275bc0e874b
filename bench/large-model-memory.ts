/**
 * Memory of a headless Chromium while bench/large-model-browser.ts runs, sampled from Node
 * every `intervalMs`, with timestamps so each stage gets its own peaks:
 * - resident memory (VmRSS from /proc) of Chromium's processes by kind: the renderer (the
 *   page and every worker it starts run in it, wasm memories included), the storage service
 *   (IndexedDB's LevelDB and blob files) and the browser process;
 * - each top-level worker's JavaScript memory through the DevTools protocol (the page's
 *   targets auto-attached, non-flattened, polled with Runtime.getHeapUsage): usedSize (V8
 *   heap objects) + backingStorageSize (ArrayBuffer and WebAssembly.Memory stores). Nested
 *   workers (the quantizer pool, the engine's helper threads, which share the chat worker's
 *   wasm memory) are not attached: they are inside the renderer's figure only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { CDPSession } from 'playwright';

export interface MemorySample {
  t: number; // Date.now()
  rss: Record<string, number>; // bytes by process kind
  workers: Record<string, number>; // bytes by worker name (its URL's file name)
}

function chromiumProcesses(root: number): { pid: number; kind: string }[] {
  const parent = new Map<number, number>();
  const cmd = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      cmd.set(Number(name), readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // the process ended while we looked
    }
  }
  const under = (pid: number) => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  const kind = (c: string) =>
    c.includes('--type=renderer')
      ? 'renderer'
      : c.includes('StorageService')
        ? 'storage'
        : c.includes('--type=')
          ? 'other'
          : c.includes('chromium')
            ? 'browser'
            : null;
  return [...cmd].flatMap(([pid, c]) => {
    const k = under(pid) ? kind(c) : null;
    return k ? [{ pid, kind: k }] : [];
  });
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface HeapUsage {
  usedSize: number;
  backingStorageSize?: number;
}

/** Starts sampling; `stop()` ends it and returns the samples. */
export async function sampleChromiumMemory(cdp: CDPSession, intervalMs = 500): Promise<{ stop(): MemorySample[] }> {
  const samples: MemorySample[] = [];
  const sessions = new Map<string, string>(); // sessionId -> worker name
  const pending = new Map<number, (u: HeapUsage | undefined) => void>();
  let nextId = 1;
  cdp.on('Target.attachedToTarget', (e) => {
    if (e.targetInfo.type === 'worker') sessions.set(e.sessionId, e.targetInfo.url.split('/').pop()!.split('?')[0]!);
  });
  cdp.on('Target.detachedFromTarget', (e) => {
    if (e.sessionId) sessions.delete(e.sessionId);
  });
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    const m = JSON.parse(e.message) as { id?: number; result?: HeapUsage };
    if (m.id !== undefined) pending.get(m.id)?.(m.result);
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const heapOf = (sessionId: string) =>
    new Promise<HeapUsage | undefined>((resolve) => {
      const id = nextId++;
      const done = (u: HeapUsage | undefined) => {
        pending.delete(id);
        resolve(u);
      };
      pending.set(id, done);
      setTimeout(() => done(undefined), 2000); // a worker busy in a long wasm call answers late, or ending never does
      cdp
        .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) })
        .catch(() => done(undefined));
    });
  let procs = chromiumProcesses(process.pid);
  let ticks = 0;
  let running = true;
  const loop = async () => {
    while (running) {
      if (ticks++ % 10 === 0) procs = chromiumProcesses(process.pid);
      const rss: Record<string, number> = {};
      for (const p of procs) rss[p.kind] = (rss[p.kind] ?? 0) + rssBytes(p.pid);
      const workers: Record<string, number> = {};
      await Promise.all(
        [...sessions].map(async ([sessionId, name]) => {
          const u = await heapOf(sessionId);
          if (u) workers[name] = (workers[name] ?? 0) + u.usedSize + (u.backingStorageSize ?? 0);
        }),
      );
      samples.push({ t: Date.now(), rss, workers });
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  };
  const looping = loop();
  return {
    stop() {
      running = false;
      void looping;
      return samples;
    },
  };
}

/** The largest value of `pick` over the samples taken in [start, end]; 0 when none. */
export function peakIn(samples: MemorySample[], start: number, end: number, pick: (s: MemorySample) => number | undefined): number {
  let peak = 0;
  for (const s of samples) if (s.t >= start && s.t <= end) peak = Math.max(peak, pick(s) ?? 0);
  return peak;
}

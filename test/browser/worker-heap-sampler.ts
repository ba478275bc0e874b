import { cdp } from 'vitest/browser';

/**
 * Samples the JavaScript memory of the page's workers through the Chrome DevTools
 * Protocol: each worker target is attached (non-flattened sessions, so the page's own CDP
 * session can reach it) and polled with Runtime.getHeapUsage. A worker's figure is
 * usedSize (V8 heap objects) + backingStorageSize (ArrayBuffer and WebAssembly memory
 * stores, where the tensors live). Garbage not yet collected counts, as it would for the
 * tab's real footprint. performance.memory is absent in workers and
 * measureUserAgentSpecificMemory answers only at the next GC (13 s here), so neither can
 * catch a peak.
 */
export interface HeapPeak {
  url: string;
  peakBytes: number; // max over samples of usedSize + backingStorageSize
  peakBackingBytes: number;
  samples: number;
}

export interface HeapSummary {
  workers: HeapPeak[];
  /** The max over samples of the sum over all matching workers. */
  peakTotalBytes: number;
  intervalMs: number;
}

interface HeapUsage { usedSize: number; totalSize: number; backingStorageSize: number }
interface TargetInfo { targetId: string; type: string; url: string }
interface CdpLike {
  send(method: string, params?: unknown): Promise<unknown>;
  on(event: string, listener: (e: unknown) => void): void;
  off?(event: string, listener: (e: unknown) => void): void;
}

export async function sampleWorkerHeaps(match: (url: string) => boolean, intervalMs = 20): Promise<{ stop(): Promise<HeapSummary> }> {
  const session = cdp() as unknown as CdpLike;
  const attached = new Map<string, { sessionId: string; peak: HeapPeak }>(); // by targetId
  const pending = new Map<number, (r: HeapUsage | undefined) => void>();
  let nextId = 0;
  const onMessage = (e: unknown) => {
    const m = JSON.parse((e as { message: string }).message) as { id?: number; result?: HeapUsage };
    if (m.id !== undefined) pending.get(m.id)?.(m.result);
  };
  session.on('Target.receivedMessageFromTarget', onMessage);

  // A worker that is ending may never answer: give up on a sample after a second.
  const heapOf = (sessionId: string) => new Promise<HeapUsage | undefined>((resolve) => {
    const id = ++nextId;
    const give = (r: HeapUsage | undefined) => {
      clearTimeout(timer);
      pending.delete(id);
      resolve(r);
    };
    const timer = setTimeout(() => give(undefined), 1000);
    pending.set(id, give);
    session.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) })
      .catch(() => give(undefined)); // the worker ended
  });

  async function attachNew(): Promise<void> {
    const { targetInfos } = (await session.send('Target.getTargets')) as { targetInfos: TargetInfo[] };
    for (const t of targetInfos) {
      if (t.type !== 'worker' || !match(t.url) || attached.has(t.targetId)) continue;
      const { sessionId } = (await session.send('Target.attachToTarget', { targetId: t.targetId, flatten: false })) as { sessionId: string };
      attached.set(t.targetId, { sessionId, peak: { url: t.url, peakBytes: 0, peakBackingBytes: 0, samples: 0 } });
    }
  }

  let peakTotalBytes = 0;
  let running = true;
  const loop = (async () => {
    for (let round = 0; running; round++) {
      if (round % 10 === 0) await attachNew().catch(() => undefined);
      const usages = await Promise.all([...attached.values()].map(async (a) => ({ a, u: await heapOf(a.sessionId) })));
      let total = 0;
      for (const { a, u } of usages) {
        if (!u) continue;
        const bytes = u.usedSize + u.backingStorageSize;
        a.peak.peakBytes = Math.max(a.peak.peakBytes, bytes);
        a.peak.peakBackingBytes = Math.max(a.peak.peakBackingBytes, u.backingStorageSize);
        a.peak.samples++;
        total += bytes;
      }
      peakTotalBytes = Math.max(peakTotalBytes, total);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  await attachNew();

  return {
    async stop() {
      running = false;
      await loop;
      session.off?.('Target.receivedMessageFromTarget', onMessage);
      for (const a of attached.values()) await session.send('Target.detachFromTarget', { sessionId: a.sessionId }).catch(() => undefined);
      return { workers: [...attached.values()].map((a) => a.peak), peakTotalBytes, intervalMs };
    },
  };
}

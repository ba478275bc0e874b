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

interface HeapUsage {
  usedSize: number;
  totalSize: number;
  backingStorageSize: number;
}
interface TargetInfo {
  targetId: string;
  type: string;
  url: string;
  parentId?: string;
  parentFrameId?: string;
}
interface FrameTree {
  frame: { id: string; url: string };
  childFrames?: FrameTree[];
}
interface CdpLike {
  send(method: string, params?: unknown): Promise<unknown>;
  on(event: string, listener: (e: unknown) => void): void;
}

/** The id of the frame (the test file's iframe) whose URL contains `part`. */
async function frameId(session: CdpLike, part: string): Promise<string | undefined> {
  const { frameTree } = (await session.send('Page.getFrameTree')) as { frameTree: FrameTree };
  const walk = (t: FrameTree): string | undefined =>
    t.frame.url.includes(part) ? t.frame.id : t.childFrames?.map(walk).find((id) => id !== undefined);
  return walk(frameTree);
}

/**
 * Samples the workers started by the frame whose URL contains `framePart` (other test
 * files' workers may be alive in the same page) and the workers they started, whose URL
 * passes `match`.
 */
export async function sampleWorkerHeaps(
  framePart: string,
  match: (url: string) => boolean,
  intervalMs = 20,
): Promise<{ stop(): Promise<HeapSummary> }> {
  const session = cdp() as unknown as CdpLike;
  const ourFrame = await frameId(session, framePart);
  if (!ourFrame) throw new Error(`no frame with '${framePart}' in its URL`);
  const attached = new Map<string, { sessionId: string; peak: HeapPeak }>(); // by targetId
  const pending = new Map<number, (r: HeapUsage | undefined) => void>();
  let nextId = 0;
  let listening = true; // the CDP wrapper cannot remove a listener, so a finished sampler ignores its events
  const onMessage = (e: unknown) => {
    if (!listening) return;
    const m = JSON.parse((e as { message: string }).message) as { id?: number; result?: HeapUsage };
    if (m.id !== undefined) pending.get(m.id)?.(m.result);
  };
  session.on('Target.receivedMessageFromTarget', onMessage);

  // A worker that is ending may never answer: give up on a sample after a second.
  const heapOf = (sessionId: string) =>
    new Promise<HeapUsage | undefined>((resolve) => {
      const id = ++nextId;
      const give = (r: HeapUsage | undefined) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(r);
      };
      const timer = setTimeout(() => give(undefined), 1000);
      pending.set(id, give);
      session
        .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) })
        .catch(() => give(undefined)); // the worker ended
    });

  async function attachNew(): Promise<void> {
    const { targetInfos } = (await session.send('Target.getTargets')) as { targetInfos: TargetInfo[] };
    // Twice: a nested worker's parent must be attached before it can be recognised.
    for (let pass = 0; pass < 2; pass++) {
      for (const t of targetInfos) {
        const ours = t.parentFrameId === ourFrame || (t.parentId !== undefined && attached.has(t.parentId));
        if (t.type !== 'worker' || !ours || !match(t.url) || attached.has(t.targetId)) continue;
        try {
          const { sessionId } = (await session.send('Target.attachToTarget', { targetId: t.targetId, flatten: false })) as {
            sessionId: string;
          };
          attached.set(t.targetId, { sessionId, peak: { url: t.url, peakBytes: 0, peakBackingBytes: 0, samples: 0 } });
        } catch {
          // A worker that ended between the listing and the attach.
        }
      }
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
      listening = false;
      for (const a of attached.values()) await session.send('Target.detachFromTarget', { sessionId: a.sessionId }).catch(() => undefined);
      return { workers: [...attached.values()].map((a) => a.peak), peakTotalBytes, intervalMs };
    },
  };
}

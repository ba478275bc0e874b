/**
 * The in-page half of bench/pipeline-browser.ts: the app's own workers (through the client
 * the UI uses) download the synthetic SmolLM2-shaped model from the loopback hub into
 * IndexedDB, compress it, load the result and generate. Each stage is timed here; the
 * stages' own figures come from the compression report, and the longest main-thread task
 * during the compression (the page must stay responsive: the work belongs in the workers)
 * from a long-task observer. The result lands in `window.benchResult`.
 */
import { createChatClient, createCompressClient } from '../src/worker/client.ts';

export interface PipelineResult {
  bytes: number;
  downloadS: number;
  recipe: string;
  compressS: number;
  /** The longest main-thread task (> 50 ms, the long-task threshold) while compressing; 0 when none. */
  longestTaskMs: number;
  bytesOut: number;
  pipelineS: number;
  readS: number | null;
  writeS: number | null;
  quantizer: string;
  loadS: number;
  decodeTokS: number;
  threads: number;
  error?: string;
}

async function run(): Promise<PipelineResult> {
  const q = new URLSearchParams(location.search);
  const hubUrl = q.get('hub')!;
  const repo = q.get('repo')!;
  const recipe = q.get('recipe') ?? 'int4-g32';
  const storeName = `bench-${Date.now()}`;
  const compress = createCompressClient({ storeName });
  try {
    let t = performance.now();
    const source = await compress.download({ kind: 'hub', repo, hubUrl });
    const downloadS = (performance.now() - t) / 1000;
    t = performance.now();
    let longestTaskMs = 0;
    const longTasks = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) longestTaskMs = Math.max(longestTaskMs, e.duration);
    });
    longTasks.observe({ type: 'longtask' });
    const out = await compress.compress(source.id, recipe);
    const compressS = (performance.now() - t) / 1000;
    longTasks.disconnect();
    const chat = createChatClient({ storeName });
    try {
      t = performance.now();
      const loaded = await chat.load(out.id, { device: 'wasm' });
      const loadS = (performance.now() - t) / 1000;
      await chat.generate({ prompt: { text: 'w5 w7 w11' }, maxNewTokens: 4 }); // warm-up
      const g = await chat.generate({ prompt: { text: 'w5 w7 w11' }, maxNewTokens: 64 });
      const r = out.report!;
      return {
        bytes: source.bytes,
        downloadS,
        recipe: r.recipe,
        compressS,
        longestTaskMs,
        bytesOut: r.bytesOut,
        pipelineS: r.compressSeconds,
        readS: r.readSeconds,
        writeS: r.writeSeconds,
        quantizer: r.quantizer,
        loadS,
        decodeTokS: g.tokensPerSecond,
        threads: loaded.threads,
      };
    } finally {
      chat.terminate();
    }
  } finally {
    await compress
      .list()
      .then(async (models) => {
        for (const m of models) await compress.delete(m.id);
      })
      .catch(() => undefined);
    compress.terminate();
  }
}

const target = window as unknown as { benchResult?: PipelineResult | { error: string } };
run().then(
  (r) => {
    target.benchResult = r;
    document.getElementById('out')!.textContent = JSON.stringify(r, null, 2);
  },
  (e: unknown) => {
    target.benchResult = { error: e instanceof Error ? e.message : String(e) };
  },
);

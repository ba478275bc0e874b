/**
 * The in-page half of bench/large-model-browser.ts: the app's own workers (through the
 * client the UI uses) download a 1B-parameter bf16 checkpoint from the loopback hub into
 * IndexedDB, compress it to int4-g32, then, each in a fresh chat worker on the CPU engine,
 * score a short text and chat a few tokens with the original (its bf16 matrices held as
 * fp16) and with the compressed model. Every stage's wall-clock span (Date.now(), so the
 * Node side can attribute its memory samples to it) and the workers' own figures land in
 * `window.benchResult`.
 */
import { createChatClient, createCompressClient } from '../src/worker/client.ts';
import type { LoadedModelInfo } from '../src/worker/protocol.ts';

export interface Stage {
  name: string;
  start: number; // Date.now() at its start
  end: number;
}

export interface RunResult {
  id: string;
  loadS: number;
  loaded: LoadedModelInfo;
  ppl: number;
  pplTokens: number;
  pplS: number;
  chatTokens: number;
  prefillTokens: number;
  prefillS: number;
  decodeTokS: number;
  chatText: string;
}

export interface LargeResult {
  bytesDownloaded: number;
  storeUsageAfterDownload: number;
  storeUsageAfterCompress: number;
  storeQuota: number;
  bytesOut: number;
  quantizer: string;
  readS: number | null;
  writeS: number | null;
  before: RunResult;
  after: RunResult;
  stages: Stage[];
  error?: string;
}

// A short English text: the perplexity figure only shows the path runs end to end (the weights are random).
const TEXT =
  'The little boat drifted along the river while the sun went down behind the hills. ' +
  'Anna watched the water turn gold and counted the birds that flew home for the night.';
const MESSAGES = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: 'Write one sentence about the sea.' },
];

async function run(): Promise<LargeResult> {
  const q = new URLSearchParams(location.search);
  const hubUrl = q.get('hub')!;
  const repo = q.get('repo')!;
  const recipe = q.get('recipe') ?? 'int4-g32';
  const chatTokens = Number(q.get('tokens') ?? '8');
  const storeName = `bench-large-${Date.now()}`;
  const stages: Stage[] = [];
  const stage = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const start = Date.now();
    try {
      return await f();
    } finally {
      stages.push({ name, start, end: Date.now() });
    }
  };
  const compress = createCompressClient({ storeName });
  const measure = async (id: string, label: string): Promise<RunResult> => {
    const chat = createChatClient({ storeName });
    try {
      let t = performance.now();
      const loaded = await stage(`load ${label}`, () => chat.load(id, { engine: 'cpu', device: 'wasm' }));
      const loadS = (performance.now() - t) / 1000;
      t = performance.now();
      const p = await stage(`perplexity ${label}`, () => chat.evaluate(TEXT, { maxDocs: 1 }));
      const pplS = (performance.now() - t) / 1000;
      const g = await stage(`chat ${label}`, () =>
        chat.generate({ prompt: { messages: MESSAGES }, maxNewTokens: chatTokens, temperature: 0 }),
      );
      return {
        id,
        loadS,
        loaded,
        ppl: p.ppl,
        pplTokens: p.tokens,
        pplS,
        chatTokens: g.ids.length,
        prefillTokens: g.promptTokens,
        prefillS: g.prefillMs / 1000,
        decodeTokS: g.tokensPerSecond,
        chatText: g.text,
      };
    } finally {
      chat.terminate();
    }
  };
  try {
    const source = await stage('download', () => compress.download({ kind: 'hub', repo, hubUrl }));
    const afterDownload = await navigator.storage.estimate();
    const out = await stage('compress', () => compress.compress(source.id, recipe));
    const afterCompress = await navigator.storage.estimate();
    const before = await measure(source.id, 'original');
    const after = await measure(out.id, recipe);
    const r = out.report!;
    return {
      bytesDownloaded: source.bytes,
      storeUsageAfterDownload: afterDownload.usage ?? 0,
      storeUsageAfterCompress: afterCompress.usage ?? 0,
      storeQuota: afterCompress.quota ?? 0,
      bytesOut: r.bytesOut,
      quantizer: r.quantizer,
      readS: r.readSeconds,
      writeS: r.writeSeconds,
      before,
      after,
      stages,
    };
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

const target = window as unknown as { benchResult?: LargeResult | { error: string }; benchStages?: Stage[] };
run().then(
  (r) => {
    target.benchResult = r;
    document.getElementById('out')!.textContent = JSON.stringify(r, null, 2);
  },
  (e: unknown) => {
    target.benchResult = { error: e instanceof Error ? e.message : String(e) };
  },
);

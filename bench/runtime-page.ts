/**
 * The in-page half of bench/runtime-browser.ts: builds a synthetic model with our ONNX
 * builder inside Chromium and times prefill and decode on onnxruntime-web's wasm EP
 * (threads when the page is cross-origin isolated). Parameters come from the query string;
 * the result lands in `window.benchResult`.
 */
import { buildOnnxDecoder } from '../src/build/decoder.ts';
import { syntheticConfig, syntheticIR, type SyntheticShape } from '../src/model/synthetic-ir.ts';
import { createOnnxCausalLM } from '../src/runtime/onnx-causal-lm.ts';

export interface PageResult {
  shape: string;
  ops: string;
  layers: number;
  threads: number;
  isolated: boolean;
  prefillTokS: number;
  decodeTokS: number;
  modelMB: number;
  error?: string;
}

async function run(): Promise<PageResult> {
  const q = new URLSearchParams(location.search);
  const shape = (q.get('shape') ?? 'smollm2-135m') as SyntheticShape;
  const ops = (q.get('ops') ?? 'plain') as 'plain' | 'fused';
  const threads = Number(q.get('threads') ?? '2');
  const promptLen = Number(q.get('prompt') ?? '128');
  const steps = Number(q.get('decode') ?? '32');
  const reps = Number(q.get('reps') ?? '2');
  const layers = q.get('layers');
  const config = syntheticConfig(shape, layers ? { numLayers: Number(layers) } : {});
  const built = await buildOnnxDecoder(syntheticIR(config, 1234), { ops });
  const modelMB = built.model.byteLength / 1e6;
  const lm = await createOnnxCausalLM(config, built.model, [], { device: 'wasm', numThreads: threads });
  const prompt = Array.from({ length: promptLen }, (_, i) => (i * 7919 + 3) % config.vocabSize);
  let prefill = Infinity;
  let decode = Infinity;
  for (let r = 0; r < reps; r++) {
    const s = lm.createState();
    let t = performance.now();
    await lm.forward(s, prompt);
    prefill = Math.min(prefill, performance.now() - t);
    t = performance.now();
    for (let i = 0; i < steps; i++) await lm.forward(s, [(i * 31 + 5) % config.vocabSize]);
    decode = Math.min(decode, (performance.now() - t) / steps);
    s.dispose();
  }
  await lm.dispose();
  return {
    shape,
    ops,
    layers: config.numLayers,
    threads,
    isolated: crossOriginIsolated,
    prefillTokS: promptLen / (prefill / 1000),
    decodeTokS: 1000 / decode,
    modelMB,
  };
}

const target = window as unknown as { benchResult?: PageResult | { error: string } };
run().then(
  (r) => {
    target.benchResult = r;
    document.getElementById('out')!.textContent = JSON.stringify(r, null, 2);
  },
  (e: unknown) => {
    target.benchResult = { error: e instanceof Error ? e.message : String(e) };
  },
);

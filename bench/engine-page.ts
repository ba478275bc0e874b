/**
 * The in-page half of bench/engine-browser.ts: one row (query string: shape, recipe, engine,
 * threads, layers, prompt, decode, reps), or the copy-rate probe (probe=copy); the result
 * lands in `window.benchResult`.
 */
import { browserEngineModules } from '../src/engine/browser-engine.ts';
import { createRtnQuantizer } from '../src/kernels/quantize/index.ts';
import { quantizeWasmUrl } from '../src/kernels/quantize/wasm/quantize-wasm-url.ts';
import { loadQuantizeWasm } from '../src/kernels/quantize/wasm/quantize-wasm.ts';
import type { SyntheticShape } from '../src/model/synthetic-ir.ts';
import { copyRate, runEngineRow } from './engine-model.ts';

async function run(): Promise<unknown> {
  const q = new URLSearchParams(location.search);
  if (q.get('probe') === 'copy') return { bytesPerSecond: copyRate(), isolated: crossOriginIsolated };
  const quantizer = await createRtnQuantizer({ wasm: await loadQuantizeWasm(await (await fetch(quantizeWasmUrl)).arrayBuffer()) });
  return runEngineRow(
    {
      shape: q.get('shape') as SyntheticShape,
      recipe: q.get('recipe')!,
      engine: q.get('engine') as 'cpu' | 'onnx',
      threads: Number(q.get('threads')),
      layers: q.get('layers') ? Number(q.get('layers')) : undefined,
      prompt: Number(q.get('prompt') ?? 128),
      decode: Number(q.get('decode') ?? 32),
      reps: Number(q.get('reps') ?? 2),
    },
    { quantizer, modules: browserEngineModules },
  );
}

const target = window as unknown as { benchResult?: unknown };
run().then(
  (r) => {
    target.benchResult = r;
    document.getElementById('out')!.textContent = JSON.stringify(r, null, 2);
  },
  (e: unknown) => {
    target.benchResult = { error: e instanceof Error ? e.message : String(e) };
  },
);

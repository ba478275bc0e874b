/// <reference lib="webworker" />
/**
 * Calibrated compression of the synthetic SmolLM2-135M-shaped model inside a worker, as the
 * compress worker runs it (WASM SIMD kernels): 30 layers of seeded random weights, generated
 * as the pipeline reads them, and `windows` windows of 512 seeded random tokens. Random
 * weights say nothing about quality: this measures time and memory only.
 */
import { wasmCalibBackend } from '../src/compress/calib-backend.ts';
import { compressModel } from '../src/compress/pipeline.ts';
import { planCompression } from '../src/compress/plan.ts';
import { parseRecipe } from '../src/compress/recipe.ts';
import { loadCalibWasm } from '../src/kernels/calib/wasm/calib-wasm.ts';
import { calibWasmUrl } from '../src/kernels/calib/wasm/calib-wasm-url.ts';
import { createCalibPoolBrowser } from '../src/kernels/calib/wasm/calib-pool-browser.ts';
import { createPruner } from '../src/kernels/prune/index.ts';
import { createRtnQuantizer } from '../src/kernels/quantize/index.ts';
import { quantizeWasmUrl } from '../src/kernels/quantize/wasm/quantize-wasm-url.ts';
import { syntheticConfig, syntheticIR } from '../src/model/synthetic-ir.ts';
import { lcgRng } from '../test/seeded-random.ts';

export interface CalibrationBenchResult {
  recipe: string;
  layers: number;
  windows: number;
  tokens: number;
  seconds: number; // compressModel, end to end
  calibrationSeconds: number;
  blockSeconds: number[]; // wall time of each block's calibration
  bytesOut: number;
  poolWorkers: number; // nested workers the large products were split over (0: all on this worker)
}

self.onmessage = async (e: MessageEvent<{ recipe: string; windows: number; layers: number; pool: number }>) => {
  try {
    const { recipe, windows: count, layers, pool: poolSize } = e.data;
    const config = syntheticConfig('smollm2-135m', { numLayers: layers });
    const r = lcgRng(12345);
    const windows = Array.from({ length: count }, () => Int32Array.from({ length: 512 }, () => Math.floor((r() + 0.5) * config.vocabSize)));
    const module = await WebAssembly.compileStreaming(fetch(calibWasmUrl));
    const pool = poolSize > 0 ? await createCalibPoolBrowser(module, poolSize) : undefined;
    const backend = wasmCalibBackend(await loadCalibWasm(module), pool);
    const quantizer = await createRtnQuantizer({ wasm: await WebAssembly.compileStreaming(fetch(quantizeWasmUrl)) });
    const blockSeconds: number[] = [];
    const started = performance.now();
    let blockStart = started;
    const result = await compressModel(syntheticIR(config), planCompression(parseRecipe(recipe), config), {
      quantizer,
      pruner: await createPruner(),
      calibration: { windows, backend },
      onProgress: (p) => {
        if (p.stage !== 'calibrate') return;
        const now = performance.now();
        if (p.done > 0 && p.done > blockSeconds.length) {
          blockSeconds.push((now - blockStart) / 1000);
          self.postMessage({
            log: `block ${p.done}/${p.total}: ${((now - blockStart) / 1000).toFixed(1)} s (${((now - started) / 1000).toFixed(0)} s in)`,
          });
        }
        blockStart = now;
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const bytesOut = result.built.model.byteLength + (result.built.externalData?.byteLength ?? 0);
    self.postMessage({
      result: {
        recipe: result.plan.recipe.canonical,
        layers,
        windows: count,
        tokens: count * 512,
        seconds,
        calibrationSeconds: result.calibration!.seconds,
        blockSeconds,
        bytesOut,
        poolWorkers: pool?.size ?? 0,
      } satisfies CalibrationBenchResult,
    });
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  }
};

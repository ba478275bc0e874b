/**
 * One row of the engine benchmarks, in a page or in Node: a synthetic model with a real
 * model's shape compressed by a recipe through the pipeline, opened on the CPU engine or on
 * onnxruntime-web's wasm EP, then timed: a prefill of `prompt` positions, then `decode`
 * one-token steps through the KV cache (best of `reps`). Bytes per token count what a decode
 * step reads of the stored weights (linear layers and classifier whole, one embedding row).
 */
import { compressModel } from '../src/compress/pipeline.ts';
import { planCompression } from '../src/compress/plan.ts';
import { parseRecipe } from '../src/compress/recipe.ts';
import type { EngineModules } from '../src/engine/engine-module.ts';
import { CpuModelLoader } from '../src/engine/cpu-model-loader.ts';
import type { EngineThreadSpawner } from '../src/engine/thread-pool.ts';
import type { RtnQuantizer } from '../src/kernels/quantize/index.ts';
import type { CausalLM } from '../src/model/causal-lm.ts';
import { syntheticConfig, syntheticIR, type SyntheticShape } from '../src/model/synthetic-ir.ts';
import { tensorNames } from '../src/model/tensor-table.ts';
import { createOnnxCausalLM } from '../src/runtime/onnx-causal-lm.ts';
import { concatBytes } from '../test/concat-bytes.ts';

export interface EngineRow {
  shape: SyntheticShape;
  recipe: string;
  engine: 'cpu' | 'onnx';
  threads: number;
  layers?: number;
  prompt: number;
  decode: number;
  reps: number;
}

export interface EngineRowResult {
  threads: number; // what the engine actually used
  simd: string;
  layers: number;
  storedMB: number;
  bytesPerToken: number;
  loadMs: number;
  prefillTokS: number;
  decodeTokS: number;
  /** Per process CPU time (Node only: steadier than wall time when other work shares the cores). */
  prefillCpuTokS?: number;
  decodeCpuTokS?: number;
  engineHeapMB: number | null; // the CPU engine's wasm memory; null for onnxruntime
  fallback?: string;
}

export interface RowTools {
  quantizer: RtnQuantizer;
  modules: () => Promise<EngineModules>;
  spawner?: EngineThreadSpawner | null;
  /** Milliseconds of CPU this process used so far (Node); absent in a page. */
  cpuMs?: () => number;
}

export async function runEngineRow(row: EngineRow, tools: RowTools): Promise<EngineRowResult> {
  const config = syntheticConfig(row.shape, row.layers ? { numLayers: row.layers } : {});
  const r = await compressModel(syntheticIR(config, 1234), planCompression(parseRecipe(row.recipe), config), {
    quantizer: tools.quantizer,
  });
  const built = r.built;
  const external = built.externalData ? [{ path: built.externalData.location, data: concatBytes(built.externalData.chunks) }] : [];
  const storedMB = (built.model.byteLength + (built.externalData?.byteLength ?? 0)) / 1e6;
  const t0 = performance.now();
  let lm: CausalLM;
  let bytesPerToken = built.tensors.reduce((s, t) => s + (t.name === tensorNames.embedding && !config.tieWordEmbeddings ? 0 : t.bytes), 0);
  let threads = row.threads;
  let simd = 'ort';
  let heap: (() => number) | null = null;
  let fallback: string | undefined;
  if (row.engine === 'cpu') {
    const loader = await CpuModelLoader.create(await tools.modules(), { threads: row.threads, spawner: tools.spawner });
    const m = await loader.fromGraph(config, { name: `${row.recipe}/model.onnx`, model: built.model, externalData: external });
    if ('unsupported' in m) {
      fallback = m.unsupported;
      lm = await createOnnxCausalLM(config, built.model, external, { device: 'wasm', numThreads: row.threads });
    } else {
      lm = m;
      bytesPerToken = m.info.bytesPerToken;
      threads = m.info.threads;
      simd = m.info.simd;
      heap = m.info.heapBytes;
    }
  } else {
    lm = await createOnnxCausalLM(config, built.model, external, { device: 'wasm', numThreads: row.threads });
  }
  const loadMs = performance.now() - t0;
  const prompt = Array.from({ length: row.prompt }, (_, i) => (i * 7919 + 3) % config.vocabSize);
  const cpuMs = tools.cpuMs ?? (() => NaN);
  let prefill = Infinity;
  let decode = Infinity;
  let prefillCpu = Infinity;
  let decodeCpu = Infinity;
  for (let rep = 0; rep < row.reps; rep++) {
    const s = lm.createState();
    let t = performance.now();
    let c = cpuMs();
    await lm.forward(s, prompt);
    prefill = Math.min(prefill, performance.now() - t);
    prefillCpu = Math.min(prefillCpu, cpuMs() - c);
    t = performance.now();
    c = cpuMs();
    for (let i = 0; i < row.decode; i++) await lm.forward(s, [(i * 31 + 5) % config.vocabSize]);
    decode = Math.min(decode, (performance.now() - t) / row.decode);
    decodeCpu = Math.min(decodeCpu, (cpuMs() - c) / row.decode);
    s.dispose();
  }
  const engineHeapMB = heap ? heap() / 1e6 : null;
  await lm.dispose();
  return {
    threads,
    simd,
    layers: config.numLayers,
    storedMB,
    bytesPerToken,
    loadMs,
    engineHeapMB,
    ...(fallback ? { fallback } : {}),
    prefillTokS: row.prompt / (prefill / 1000),
    decodeTokS: 1000 / decode,
    ...(tools.cpuMs ? { prefillCpuTokS: row.prompt / (prefillCpu / 1000), decodeCpuTokS: 1000 / decodeCpu } : {}),
  };
}

/** Bytes a large copy moves per second (dst.set(src) of two 256 MiB arrays, median of 7 after a warm-up), as wllama's anchor measures it. */
export function copyRate(): number {
  const n = 64 * 1024 * 1024;
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n);
  dst.set(src);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    dst.set(src);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return (n * 4) / (times[3]! / 1000);
}

/**
 * Decoder speed on onnxruntime-web (wasm EP, in Node), per recipe (fp32 and int4-g32 by
 * default, built through the compression pipeline), for synthetic models with the
 * shapes of SmolLM2-135M and Qwen2.5-0.5B (random weights from a fixed seed, built in
 * memory with our ONNX builder), for plain-op and fused (com.microsoft) graphs:
 *   prefill tokens/s (one forward over a prompt) and decode tokens/s (one token at a time
 *   through the KV cache), next to the memory-bandwidth bound for decode:
 *   bandwidth of a large copy / weight bytes read per token (of that recipe's stored weights).
 * Qwen2.5-0.5B in fp32 is ~2 GB: it loads (all 24 layers) because the builder moves
 * weights over 1 GiB to external data (inline, wasm32's 4 GiB heap runs out). Pass
 * --extrapolate to measure it at 6 and 12 layers and extrapolate linearly per layer
 * instead (for machines with little memory), --external to force external data everywhere.
 * Run: npx tsx bench/runtime.ts [--extrapolate] [--external] [--prompt 128] [--decode 32] [--reps 3] [--threads 1] [--shapes smollm2-135m,qwen2.5-0.5b] [--ops plain,fused] [--recipes fp32,int4-g32]
 */
import { compressModel } from '../src/compress/pipeline.ts';
import { createRtnQuantizer } from '../src/kernels/quantize/index.ts';
import { tensorNames } from '../src/model/tensor-table.ts';
import { loadQuantizeWasmNode } from '../src/node/kernel-wasm-node.ts';
import { syntheticConfig, syntheticIR, type SyntheticShape } from '../src/model/synthetic-ir.ts';
import type { ModelConfig } from '../src/model/config.ts';
import { createOnnxCausalLM } from '../src/runtime/onnx-causal-lm.ts';
import { planCompression } from '../src/compress/plan.ts';
import { parseRecipe } from '../src/compress/recipe.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const promptLen = Number(arg('prompt', '128'));
const decodeSteps = Number(arg('decode', '32'));
const reps = Number(arg('reps', '3'));
const threads = Number(arg('threads', '1'));
const shapes = arg('shapes', 'smollm2-135m,qwen2.5-0.5b').split(',') as SyntheticShape[];
const opsList = arg('ops', 'plain,fused').split(',') as ('plain' | 'fused')[];
const recipes = arg('recipes', 'fp32,int4-g32').split(',');
const quantizer = await createRtnQuantizer({ wasm: await loadQuantizeWasmNode() });
const extrapolateQwen = process.argv.includes('--extrapolate');
const externalDataThreshold = process.argv.includes('--external') ? 0 : undefined;

/** Bandwidth of a large memory copy, GB/s counting bytes read plus bytes written. */
function copyBandwidth(): number {
  const n = 64 * 1024 * 1024; // 256 MB of floats, far beyond any cache
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t);
  }
  return (2 * n * 4) / (best / 1000) / 1e9;
}

/**
 * Stored weight bytes one decode step reads: every tensor but the embedding, of which a
 * step gathers one row (unless the classifier is tied to it and reads it whole).
 */
function bytesPerToken(c: ModelConfig, tensors: readonly { name: string; bytes: number }[]): number {
  return tensors.reduce((sum, t) => sum + (t.name === tensorNames.embedding && !c.tieWordEmbeddings ? 0 : t.bytes), 0);
}

// Wall time, and CPU time of this process (steadier on a shared machine; with one wasm
// thread it is the work itself).
interface Timing {
  prefillMs: number;
  decodeMs: number;
  prefillCpuMs: number;
  decodeCpuMs: number;
  modelMB: number;
  bytesPerToken: number;
}

/** Wall and CPU milliseconds of `fn`. */
async function timed(fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const c = process.cpuUsage();
  const t = performance.now();
  await fn();
  const du = process.cpuUsage(c);
  return { wall: performance.now() - t, cpu: (du.user + du.system) / 1000 };
}

async function measure(config: ModelConfig, ops: 'plain' | 'fused', recipe: string): Promise<Timing> {
  const { built } = await compressModel(syntheticIR(config, 1234), planCompression(parseRecipe(recipe), config), {
    quantizer,
    ops,
    externalDataThreshold,
  });
  const external = built.externalData ? [{ path: built.externalData.location, data: Buffer.concat(built.externalData.chunks) }] : [];
  const modelMB = (built.model.byteLength + (built.externalData?.byteLength ?? 0)) / 1e6;
  const lm = await createOnnxCausalLM(config, built.model, external, { device: 'wasm', numThreads: threads });
  const prompt = Array.from({ length: promptLen }, (_, i) => (i * 7919 + 3) % config.vocabSize);
  const best = {
    prefillMs: Infinity,
    decodeMs: Infinity,
    prefillCpuMs: Infinity,
    decodeCpuMs: Infinity,
    modelMB,
    bytesPerToken: bytesPerToken(config, built.tensors),
  };
  for (let r = 0; r < reps; r++) {
    const s = lm.createState();
    const p = await timed(async () => void (await lm.forward(s, prompt)));
    const d = await timed(async () => {
      for (let i = 0; i < decodeSteps; i++) await lm.forward(s, [(i * 31 + 5) % config.vocabSize]);
    });
    best.prefillMs = Math.min(best.prefillMs, p.wall);
    best.prefillCpuMs = Math.min(best.prefillCpuMs, p.cpu);
    best.decodeMs = Math.min(best.decodeMs, d.wall / decodeSteps);
    best.decodeCpuMs = Math.min(best.decodeCpuMs, d.cpu / decodeSteps);
    s.dispose();
  }
  await lm.dispose();
  return best;
}

/** Linear extrapolation in the layer count from two measured depths. */
function extrapolate(a: Timing, b: Timing, la: number, lb: number, l: number): Timing {
  const at = (k: keyof Timing) => a[k] + ((b[k] - a[k]) / (lb - la)) * (l - la);
  return {
    prefillMs: at('prefillMs'),
    decodeMs: at('decodeMs'),
    prefillCpuMs: at('prefillCpuMs'),
    decodeCpuMs: at('decodeCpuMs'),
    modelMB: at('modelMB'),
    bytesPerToken: at('bytesPerToken'),
  };
}

const bandwidth = copyBandwidth();
console.log(
  `onnxruntime-web wasm EP in Node ${process.version}, ${threads} thread(s); prompt ${promptLen} tokens, ${decodeSteps} decode steps, best of ${reps}`,
);
console.log(`memory copy bandwidth (read + write traffic, one thread): ${bandwidth.toFixed(1)} GB/s\n`);
const rows: string[][] = [
  [
    'model',
    'recipe',
    'ops',
    'layers',
    'weights MB',
    'prefill tok/s',
    'prefill (cpu)',
    'decode tok/s',
    'decode (cpu)',
    'bound tok/s',
    'of bound',
    'note',
  ],
];
for (const shape of shapes) {
  const config = syntheticConfig(shape);
  for (const recipe of recipes) {
    for (const ops of opsList) {
      let t: Timing;
      let note = 'measured';
      if (shape === 'qwen2.5-0.5b' && extrapolateQwen) {
        const la = 6;
        const lb = 12;
        const a = await measure(syntheticConfig(shape, { numLayers: la }), ops, recipe);
        const b = await measure(syntheticConfig(shape, { numLayers: lb }), ops, recipe);
        t = extrapolate(a, b, la, lb, config.numLayers);
        note = `extrapolated from ${la} and ${lb} layers (decode ${(1000 / a.decodeMs).toFixed(1)} / ${(1000 / b.decodeMs).toFixed(1)} tok/s)`;
      } else {
        t = await measure(config, ops, recipe);
      }
      // A decode step streams every weight once; at best at the rate a large copy moves
      // bytes (each byte read once and written once, so half the copy's traffic).
      const bound = (bandwidth * 1e9) / 2 / t.bytesPerToken;
      rows.push([
        shape,
        recipe,
        ops,
        String(config.numLayers),
        t.modelMB.toFixed(0),
        (promptLen / (t.prefillMs / 1000)).toFixed(1),
        (promptLen / (t.prefillCpuMs / 1000)).toFixed(1),
        (1000 / t.decodeMs).toFixed(2),
        (1000 / t.decodeCpuMs).toFixed(2),
        bound.toFixed(2),
        `${((1000 / t.decodeMs / bound) * 100).toFixed(0)}%`,
        note,
      ]);
    }
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
console.log('\nbound = (copy bandwidth / 2) / stored weight bytes per decode token (linear layers + classifier): weights streamed once,');
console.log('        at the rate one thread copies memory. "cpu" columns divide by process CPU time (steadier when other');
console.log("        work shares the cores; with more than one thread, CPU time overstates the work's own time).");
console.log('Random weights: speed only, never quality.');

/**
 * Speculative decoding on the synthetic SmolLM2-135M shape, CPU engine in Node: the fp32
 * original decoding greedily on its own, then drafted (src/runtime/speculative.ts) by
 *   - itself: every proposal agrees by construction, so the ratio shows the method's overhead
 *     (k one-token draft passes plus one (k+1)-token verification per k+1 tokens, and the
 *     bookkeeping) against the best case of k+1 tokens per original pass;
 *   - its int4-g32 copy: the real use, except that on random weights the logits are nearly flat
 *     and quantization flips the argmax often, so acceptance says nothing of a trained model's.
 * Rows alternate plain and drafted runs (best of `reps` each), so load on the shared machine hits
 * both alike. Wall time and this process's CPU time; random weights: speed only, never quality.
 * Run: npx tsx bench/speculative.ts [--tokens 64] [--prompt 16] [--k 2,4] [--reps 2] [--threads 1] [--layers N]
 */
import { compressModel } from '../src/compress/pipeline.ts';
import { planCompression } from '../src/compress/plan.ts';
import { parseRecipe } from '../src/compress/recipe.ts';
import { CpuModelLoader } from '../src/engine/cpu-model-loader.ts';
import { createRtnQuantizer } from '../src/kernels/quantize/index.ts';
import type { CausalLM } from '../src/model/causal-lm.ts';
import { syntheticConfig, syntheticIR } from '../src/model/synthetic-ir.ts';
import { engineModulesNode, nodeThreadSpawner } from '../src/node/engine-node.ts';
import { loadQuantizeWasmNode } from '../src/node/kernel-wasm-node.ts';
import { generate, type GenerateResult } from '../src/runtime/generate.ts';
import { draftedFigures, generateDrafted, type DraftedResult } from '../src/runtime/speculative.ts';
import { concatBytes } from '../test/concat-bytes.ts';
import { printTable } from './bench-browser.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const tokens = Number(arg('tokens', '64'));
const promptLength = Number(arg('prompt', '16'));
const ks = arg('k', '2,4').split(',').map(Number);
const reps = Number(arg('reps', '2'));
const threads = Number(arg('threads', '1'));
const layers = arg('layers', '');

const config = syntheticConfig('smollm2-135m', layers ? { numLayers: Number(layers) } : {});
const ir = syntheticIR(config, 1234);
const modules = await engineModulesNode();
const loader = () => CpuModelLoader.create(modules, { threads, spawner: nodeThreadSpawner });
const original = await (await loader()).fromIR(ir);
const r = await compressModel(ir, planCompression(parseRecipe('int4-g32'), config), {
  quantizer: await createRtnQuantizer({ wasm: await loadQuantizeWasmNode() }),
});
const external = r.built.externalData ? [{ path: r.built.externalData.location, data: concatBytes(r.built.externalData.chunks) }] : [];
const int4 = await (await loader()).fromGraph(r.config, { name: 'int4-g32/model.onnx', model: r.built.model, externalData: external });
if ('unsupported' in int4) throw new Error(`the CPU engine does not run the int4-g32 draft: ${int4.unsupported}`);

const prompt = Array.from({ length: promptLength }, (_, i) => (i * 7919 + 3) % config.vocabSize);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Timed<R> {
  result: R;
  wallMs: number; // the decode phase: everything after the prompt's pass
  cpuMs: number;
}

/** Best of `reps` by decode wall time; the CPU time is that run's, prorated to its decode share. */
async function best<R extends GenerateResult>(run: () => Promise<R>): Promise<Timed<R>> {
  let out: Timed<R> | undefined;
  for (let i = 0; i < reps; i++) {
    const c = cpuMs();
    const t = performance.now();
    const result = await run();
    const total = performance.now() - t;
    const cpu = ((cpuMs() - c) * result.decodeMs) / total;
    if (!out || result.decodeMs < out.wallMs) out = { result, wallMs: result.decodeMs, cpuMs: cpu };
  }
  return out!;
}

const plainRun = () => generate(original, prompt, { maxNewTokens: tokens });
const draftedRun = (draft: CausalLM, k: number) => () => generateDrafted(original, draft, prompt, { maxNewTokens: tokens, draftTokens: k });

console.log(
  `Speculative decoding, synthetic SmolLM2-135M shape (${config.numLayers} layers, random weights), CPU engine in Node ${process.version}, ` +
    `${threads} thread(s); fp32 original, greedy, prompt ${promptLength}, ${tokens} new tokens, best of ${reps}`,
);
const table: string[][] = [
  ['draft', 'k', 'same text', 'acceptance', 'original passes/token', 'decode tok/s', 'wall vs plain', 'cpu vs plain'],
];
const plain = await best(plainRun);
const plainTokS = (plain.result.decodeSteps * 1000) / plain.wallMs;
table.push(['none (plain)', '-', '-', '-', '1.000', plainTokS.toFixed(2), '1.00', '1.00']);
for (const [name, draft] of [
  ['the original itself', original],
  ['int4-g32', int4],
] as const) {
  for (const k of ks) {
    const again = await best(plainRun); // interleaved, so both see the same load
    const d: Timed<DraftedResult> = await best(draftedRun(draft, k));
    const f = draftedFigures(d.result);
    // Time per generated token after the first, drafted over plain: > 1 is slower.
    const perToken = (t: Timed<GenerateResult>, field: 'wallMs' | 'cpuMs') => t[field] / t.result.decodeSteps;
    table.push([
      name,
      String(k),
      d.result.ids.join() === plain.result.ids.join() ? 'yes' : 'NO',
      f.acceptanceRate.toFixed(3),
      f.targetPassesPerToken.toFixed(3),
      ((d.result.decodeSteps * 1000) / d.wallMs).toFixed(2),
      (perToken(d, 'wallMs') / perToken(again, 'wallMs')).toFixed(2),
      (perToken(d, 'cpuMs') / perToken(again, 'cpuMs')).toFixed(2),
    ]);
    console.error(
      `  ${name}, k=${k}: acceptance ${f.acceptanceRate.toFixed(3)}, ${((d.result.decodeSteps * 1000) / d.wallMs).toFixed(1)} tok/s`,
    );
  }
}
printTable(table);

/**
 * Why the ratios come out as they do: one round costs k one-token draft passes plus one
 * (k+1)-token pass of the original, against k+1 one-token passes when decoding plainly. The
 * pass over k+1 positions is timed against a one-token pass at the same cache length (CPU time, best of 5).
 */
async function passCpuMs(lm: CausalLM, n: number): Promise<number> {
  let bestMs = Infinity;
  for (let i = 0; i < 5; i++) {
    const s = lm.createState();
    await lm.forward(s, prompt);
    const c = cpuMs();
    await lm.forward(
      s,
      Array.from({ length: n }, (_, j) => (j * 31 + 5) % config.vocabSize),
    );
    bestMs = Math.min(bestMs, cpuMs() - c);
    s.dispose();
  }
  return bestMs;
}
const one = await passCpuMs(original, 1);
const draftOne = await passCpuMs(int4, 1);
const verify: string[] = [];
for (const k of ks) verify.push(`${k + 1} tokens ${((await passCpuMs(original, k + 1)) / one).toFixed(2)}`);
console.log(
  `\nOne pass of the original over k+1 positions, in one-token passes (CPU time): ${verify.join(', ')}; ` +
    `a one-token pass of the int4-g32 draft costs ${(draftOne / one).toFixed(2)} of the original's (${one.toFixed(1)} ms).`,
);
console.log(
  '\nwall (cpu) vs plain: decode time per token drafted over plain decoding measured just before it; below 1 is faster. ' +
    'Random weights: the int4-g32 acceptance is not what a trained model gets (see the stories260K figures in the README).',
);
await original.dispose();
await int4.dispose();

/**
 * What each recipe costs in quality and buys in size, on the real stories260K model: the
 * compression pipeline (WASM kernels; calibrated recipes on tinystories_calibration.txt,
 * never on what is scored), then onnxruntime-web's wasm EP in Node.
 *   bytes      onnx/model.onnx as stored (3-bit codes in the 4-bit container: int4-asym's size)
 *   params     parameters after structured pruning
 *   ppl        perplexity on the first 100 stories of tinystories_eval.txt (31,677 tokens;
 *              --text sample: the 5 stories of tinystories_sample.txt), BOS + text each
 *   vs fp32    ppl / the fp32 graph's ppl
 *   seconds    compressModel's wall time, of which calibration (this machine, shared: compare rows)
 * drop rows name the blocks removed (of 0..4): drop{N} by SLEB's calibration loss, -bi by Block Influence.
 * Rows marked "weight norms" / "random" run a structured step without calibration text (its
 * default scores) or with seeded random scores (median of 5), as baselines for "activations".
 * Run: npm run bench:quality [-- --recipes fp32,gptq-int4-g32,... --windows 128 --text eval|sample]
 * The bars are asserted in test/node/calibrated-stories.test.ts; this only reports.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureWasm } from '../scripts/build-wasm.ts';
import { demoModelDir, ensureFixtures, fixturesDir } from '../scripts/fixtures.ts';
import { wasmCalibBackend } from '../src/compress/calib-backend.ts';
import { calibrationWindows } from '../src/compress/calibration-windows.ts';
import { compressModel, type CompressResult } from '../src/compress/pipeline.ts';
import { planCompression } from '../src/compress/plan.ts';
import { parseRecipe } from '../src/compress/recipe.ts';
import { createPruner } from '../src/kernels/prune/index.ts';
import { createRtnQuantizer } from '../src/kernels/quantize/index.ts';
import { loadCalibWasmNode, loadPruneWasmNode, loadQuantizeWasmNode } from '../src/node/kernel-wasm-node.ts';
import { loadModelFolder } from '../src/node/model-folder.ts';
import { createOnnxCausalLM } from '../src/runtime/onnx-causal-lm.ts';
import { evaluatePerplexity } from '../src/runtime/perplexity.ts';
import { TextTokenizer } from '../src/runtime/tokenizer.ts';
import { lcgRng } from '../test/seeded-random.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const DEFAULT_RECIPES = [
  'fp32',
  'fp16',
  'int8',
  'int4-g32',
  'awq-int4-g32',
  'gptq-int4-g32-classic',
  'gptq-int4-g32',
  'int4-g32-asym',
  'awq-int4-g32-asym',
  'gptq-int4-g32-asym-classic',
  'gptq-int4-g32-asym',
  'gptq-int4-g32-asym-act',
  'int4-g64',
  'awq-int4-g64',
  'gptq-int4-g64',
  'int3-g32-asym',
  'awq-int3-g32-asym',
  'gptq-int3-g32-asym-classic',
  'gptq-int3-g32-asym',
  'int2-g32-asym',
  'gptq-int2-g32-asym',
  'int4-g32+emb8',
  'gptq-int4-g32+emb8',
  'int4-g32+emb4',
  'mag50',
  'wanda50',
  'sparsegpt50',
  '2:4',
  'wanda-2:4',
  'sparsegpt-2:4',
  'bits3',
  'bits3.5',
  'bits4.5',
  'bits5',
  'bits5.5',
  'mag50+int4-g32',
  'wanda50+gptq-int4-g32',
  'sparsegpt50+gptq-int4-g32',
  '2:4+int8',
  'sparsegpt-2:4+int8',
  'ffn25 weight norms',
  'ffn25 random',
  'ffn25',
  'ffn25+gptq-int4-g32',
  'heads25 weight norms',
  'heads25 random',
  'heads25',
  'drop1',
  'drop1-bi',
  'drop1-last',
  'drop2',
  'drop2-bi',
  'drop2-last',
  'drop1+int4-g32',
  'drop1-last+int4-g32',
  'drop1+gptq-int4-g32',
  'lr90',
  'lr90-act',
  'lr75',
  'lr75-act',
  'lr50',
  'lr50-act',
  'lr75+int8-g16',
  'lr75-act+int8-g16',
  'lr90-act+int4-g16',
];
const recipes = arg('recipes', DEFAULT_RECIPES.join(',')).split(',');
const windowCount = Number(arg('windows', '128'));
const textChoice = arg('text', 'eval');

ensureWasm();
if ((await ensureFixtures()).status === 'missing') throw new Error(`bench quality needs the fixtures in ${fixturesDir()}`);
const folder = await loadModelFolder(demoModelDir);
const config = folder.ir.config;
const tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, config);
const scored = readFileSync(
  join(fixturesDir(), 'text', textChoice === 'sample' ? 'tinystories_sample.txt' : 'tinystories_eval.txt'),
  'utf8',
);
const maxDocs = textChoice === 'sample' ? undefined : 100;
const calibText = readFileSync(join(fixturesDir(), 'text', 'tinystories_calibration.txt'), 'utf8');
const windows = calibrationWindows(calibText, (d) => tokenizer.encode(d, { addBos: true }), {
  windowLength: 512,
  count: windowCount,
  seed: 0,
}).windows;
const quantizer = await createRtnQuantizer({ wasm: await loadQuantizeWasmNode() });
const pruner = await createPruner({ wasm: await loadPruneWasmNode() });
const backend = wasmCalibBackend(await loadCalibWasmNode());

async function run(recipe: string, scores?: 'weight norms' | (() => number)): Promise<{ r: CompressResult; seconds: number; ppl: number }> {
  const plan = planCompression(parseRecipe(recipe), config, { calibrationText: scores === undefined });
  const random = typeof scores === 'function' ? scores : null;
  const started = performance.now();
  const r = await compressModel(folder.ir, plan, {
    quantizer,
    pruner,
    ...(plan.calibrate ? { calibration: { windows, backend } } : {}),
    ...(random
      ? {
          structuredScores: () => ({
            ffn: Float32Array.from({ length: config.intermediateSize }, random),
            groups: Float32Array.from({ length: config.numKvHeads }, random),
          }),
        }
      : {}),
  });
  const seconds = (performance.now() - started) / 1000;
  const lm = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
  const { ppl } = await evaluatePerplexity(lm, tokenizer, scored, { maxDocs });
  await lm.dispose();
  return { r, seconds, ppl };
}

const fmt = (ppl: number) => (ppl >= 100 ? ppl.toFixed(0) : ppl >= 10 ? ppl.toFixed(2) : ppl.toFixed(4));
const rows: string[][] = [['Recipe', 'Bytes', 'Parameters', 'ppl', 'vs fp32', 'Seconds (calibration)']];
let fp32Ppl = NaN;
for (const row of recipes) {
  const [recipe, ...rest] = row.split(' ');
  const variant = rest.join(' ');
  let result: Awaited<ReturnType<typeof run>>;
  let label = variant ? `${recipe!} (${variant})` : recipe!;
  if (variant === 'random') {
    const runs = [];
    for (let seed = 1; seed <= 5; seed++) runs.push(await run(recipe!, lcgRng(seed)));
    runs.sort((a, b) => a.ppl - b.ppl);
    result = runs[2]!;
    label = `${recipe!} (random: median of 5, ${fmt(runs[0]!.ppl)}–${fmt(runs[4]!.ppl)})`;
  } else {
    result = await run(recipe!, variant === 'weight norms' ? 'weight norms' : undefined);
    if (/^(ffn|heads)\d+$/.test(recipe!) && !variant) label = `${recipe!} (activations)`;
  }
  const { r, seconds, ppl } = result;
  if (r.layerRemoval) label += ` (removes block${r.layerRemoval.removed.length > 1 ? 's' : ''} ${r.layerRemoval.removed.join(', ')})`;
  if (recipe === 'fp32') fp32Ppl = ppl;
  const bytes = r.built.model.byteLength + (r.built.externalData?.byteLength ?? 0);
  const calib = r.calibration ? ` (${r.calibration.seconds.toFixed(1)})` : '';
  rows.push([
    label,
    bytes.toLocaleString('en-US'),
    r.paramsOut.toLocaleString('en-US'),
    fmt(ppl),
    (ppl / fp32Ppl).toFixed(3),
    `${seconds.toFixed(1)}${calib}`,
  ]);
  console.error(rows.at(-1)!.join('  ')); // progress, as the rows come
}
const text =
  textChoice === 'sample' ? 'tinystories_sample.txt (5 stories, 1,804 tokens)' : 'tinystories_eval.txt, first 100 stories (31,677 tokens)';
console.log(
  `stories260K; ppl on ${text}; calibrated on tinystories_calibration.txt (${windows.length} windows of 512 tokens, seed 0); onnxruntime-web wasm EP in Node\n`,
);
console.log(`| ${rows[0]!.join(' | ')} |`);
console.log(`|${rows[0]!.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
for (const row of rows.slice(1)) console.log(`| ${row.join(' | ')} |`);

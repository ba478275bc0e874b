/**
 * What each recipe costs in quality and buys in size, on the real stories260K model: the
 * compression pipeline (WASM kernels), then onnxruntime-web's wasm EP in Node.
 *   bytes        onnx/model.onnx (+ external data) as stored
 *   ppl          perplexity on tinystories_sample.txt (5 stories, 1,804 tokens; BOS + text each)
 *   vs fp32      ppl / the fp32 graph's ppl
 *   max |dlogit| worst logit difference against the fp32 reference forward pass over a
 *                64-token prefill of the first story (how far the graph's numbers move)
 * Run: npx tsx bench/quality.ts [--recipes fp32,int4-g32,...]
 * Quality is asserted in the tests (test/node/compress-recipes.test.ts); this only reports.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureWasm } from '../scripts/build-wasm.ts';
import { demoModelDir, ensureFixtures, fixturesDir } from '../scripts/fixtures.ts';
import { compressModel } from '../src/compress/pipeline.ts';
import { planCompression } from '../src/compress/plan.ts';
import { parseRecipe } from '../src/compress/recipe.ts';
import { createPruner } from '../src/kernels/prune/index.ts';
import { createRtnQuantizer } from '../src/kernels/quantize/index.ts';
import { ReferenceModel } from '../src/model/reference-forward.ts';
import { loadPruneWasmNode, loadQuantizeWasmNode } from '../src/node/kernel-wasm-node.ts';
import { loadModelFolder } from '../src/node/model-folder.ts';
import { createOnnxCausalLM } from '../src/runtime/onnx-causal-lm.ts';
import { evaluatePerplexity } from '../src/runtime/perplexity.ts';
import { TextTokenizer } from '../src/runtime/tokenizer.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const recipes = arg(
  'recipes',
  [
    'fp32',
    'fp16',
    'int8',
    'int4-g32',
    'int4-g32-asym',
    'int4-g64',
    'int4-g32+emb8',
    'int4-g32+emb4',
    'int2-g16',
    'mag50+int4-g32',
    '2:4+int8',
    'ffn25+int8',
    'heads25+int4-g32',
  ].join(','),
).split(',');

ensureWasm();
if ((await ensureFixtures()).status === 'missing') throw new Error(`bench quality needs the fixtures in ${fixturesDir()}`);
const folder = await loadModelFolder(demoModelDir);
const tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, folder.ir.config);
const sample = readFileSync(join(fixturesDir(), 'text', 'tinystories_sample.txt'), 'utf8');
const prompt = [1, ...tokenizer.encode(sample.split('<|endoftext|>')[0]!.trim())].slice(0, 64);
const reference = await ReferenceModel.load(folder.ir);
const want = await reference.forward(reference.createState(), prompt);
const quantizer = await createRtnQuantizer({ wasm: await loadQuantizeWasmNode() });
const pruner = await createPruner({ wasm: await loadPruneWasmNode() });

const rows: string[][] = [['recipe', 'bytes', 'params', 'ppl', 'vs fp32', 'max |dlogit|']];
let fp32Ppl = NaN;
for (const recipe of recipes) {
  const plan = planCompression(parseRecipe(recipe), folder.ir.config);
  const r = await compressModel(folder.ir, plan, { quantizer, pruner });
  const lm = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
  const { ppl } = await evaluatePerplexity(lm, tokenizer, sample);
  const got = await lm.forward(lm.createState(), prompt);
  await lm.dispose();
  let diff = 0;
  if (r.config.vocabSize === folder.ir.config.vocabSize)
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
  if (recipe === 'fp32') fp32Ppl = ppl;
  const bytes = r.built.model.byteLength + (r.built.externalData?.byteLength ?? 0);
  rows.push([
    plan.recipe.canonical,
    bytes.toLocaleString('en-US'),
    r.paramsOut.toLocaleString('en-US'),
    ppl.toFixed(4),
    (ppl / fp32Ppl).toFixed(4),
    diff.toExponential(2),
  ]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
console.log('stories260K, tinystories_sample.txt (1,804 tokens), onnxruntime-web wasm EP in Node');
for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));

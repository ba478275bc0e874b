import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockInfluence } from '../../src/compress/drop/block-influence.ts';
import { SLEB_WINDOWS, slebSelect } from '../../src/compress/drop/sleb-loss.ts';
import { wasmCalibBackend, type CalibBackend } from '../../src/compress/calib-backend.ts';
import { calibrationWindows, DEFAULT_WINDOW_COUNT } from '../../src/compress/calibration-windows.ts';
import { leastInfluential } from '../../src/compress/drop/drop-blocks.ts';
import { compressModel, type CompressResult } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { createRtnQuantizer, type RtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { loadCalibWasmNode, loadQuantizeWasmNode } from '../../src/node/kernel-wasm-node.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { evaluatePerplexity } from '../../src/runtime/perplexity.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { pythonWithNumpy } from '../python-numpy.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';

/**
 * Layer removal on the real stories260K model (5 blocks), as issue 14 asks: blocks chosen on
 * tinystories_calibration.txt only (32 windows of 512 tokens, seed 0: every fourth of the
 * default 128, as calibrated-stories.test.ts does for the quick methods; SLEB uses the first 8
 * of them), by SLEB (drop{N}) and by Block Influence (drop{N}-bi), perplexity on the
 * first 100 stories of tinystories_eval.txt on onnxruntime-web, against removing the last
 * blocks. The scores and losses are checked against independent numpy computations
 * (test/independent/block_influence.py, sleb_losses.py). The table with sizes and times comes from
 * `npm run bench:quality`.
 */
let ir: ModelIR;
let tokenizer: TextTokenizer;
let windows: Int32Array[];
let quantizer: RtnQuantizer;
let backend: CalibBackend;
let scratch: string;
const evalText = readFileSync(fixtureTextPath('tinystories_eval.txt'), 'utf8');
const ppl = new Map<string, number>();
const removed = new Map<string, number[]>();

beforeAll(async () => {
  const folder = await loadModelFolder(STORIES_DIR);
  ir = folder.ir;
  tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, ir.config);
  const text = readFileSync(fixtureTextPath('tinystories_calibration.txt'), 'utf8');
  windows = calibrationWindows(text, (d) => tokenizer.encode(d, { addBos: true }), {
    windowLength: 512,
    count: DEFAULT_WINDOW_COUNT,
    seed: 0,
  }).windows.filter((_, i) => i % 4 === 0);
  quantizer = await createRtnQuantizer({ wasm: await loadQuantizeWasmNode() });
  backend = wasmCalibBackend(await loadCalibWasmNode());
  scratch = await mkdtemp(join(tmpdir(), 'shrinkray-bi-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function measure(recipe: string): Promise<CompressResult> {
  const plan = planCompression(parseRecipe(recipe), ir.config);
  const r = await compressModel(ir, plan, { quantizer, ...(plan.calibrate ? { calibration: { windows, backend } } : {}) });
  const lm = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
  try {
    const e = await evaluatePerplexity(lm, tokenizer, evalText, { maxDocs: 100 });
    expect(e.tokens).toBe(31_677);
    ppl.set(recipe, e.ppl);
    removed.set(recipe, r.layerRemoval!.removed);
    console.log(`${recipe}: removed blocks ${r.layerRemoval!.removed.join(', ')}; ppl ${e.ppl.toFixed(4)}`);
  } finally {
    await lm.dispose();
  }
  return r;
}

/** Runs block_influence.py on the windows (and the streams our pass produced, when given). */
async function numpyScores(ws: Int32Array[], streams?: Float32Array[]): Promise<{ forward: number[]; given: number[] | null }> {
  const windowsFile = join(scratch, 'windows.json');
  await writeFile(windowsFile, JSON.stringify(ws.map((w) => Array.from(w))));
  const args = [join(import.meta.dirname, '..', 'independent', 'block_influence.py'), STORIES_DIR, windowsFile];
  if (streams) {
    await writeFile(join(scratch, 'streams.f32'), Buffer.concat(streams.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength))));
    args.push(join(scratch, 'streams.f32'));
  }
  const { stdout } = await promisify(execFile)(await pythonWithNumpy(), args, { maxBuffer: 1 << 26 });
  return JSON.parse(stdout) as { forward: number[]; given: number[] | null };
}

/** Runs sleb_losses.py: the mean NLL of the float64 model without each set of blocks. */
async function numpyLosses(ws: Int32Array[], sets: number[][]): Promise<number[]> {
  const windowsFile = join(scratch, 'sleb-windows.json');
  const setsFile = join(scratch, 'sleb-sets.json');
  await writeFile(windowsFile, JSON.stringify(ws.map((w) => Array.from(w))));
  await writeFile(setsFile, JSON.stringify(sets));
  const script = join(import.meta.dirname, '..', 'independent', 'sleb_losses.py');
  const { stdout } = await promisify(execFile)(await pythonWithNumpy(), [script, STORIES_DIR, windowsFile, setsFile], {
    maxBuffer: 1 << 26,
  });
  return JSON.parse(stdout) as number[];
}

// Six compressions, five with their 31,677-token evaluations, and the numpy forwards: a minute on a
// quiet 2-core machine, several when others share it. No figure here is a time.
describe('stories260K: SLEB and Block Influence against the last blocks', { timeout: 900_000 }, () => {
  it('Block Influence agrees with numpy on the same streams and on its own float64 forward pass', async () => {
    const few = windows.slice(0, 6);
    const L = ir.config.numLayers;
    // Per window, the streams at the L + 1 block boundaries: [window][boundary] -> [T, hidden].
    const streams: Float32Array[][] = few.map(() => []);
    const ours = await blockInfluence(
      ir,
      { windows: few, backend },
      {
        onBlock: (l, w, input, output) => {
          streams[w]![l] = input;
          if (l === L - 1) streams[w]![L] = output;
        },
      },
    );
    const numpy = await numpyScores(few, streams.flat());
    console.log(`Block Influence on ${few.length} windows: ours ${ours.map((s) => s.toFixed(6)).join(', ')}`);
    console.log(`numpy on our streams ${numpy.given!.map((s) => s.toFixed(6)).join(', ')}`);
    console.log(`numpy float64 forward ${numpy.forward.map((s) => s.toFixed(6)).join(', ')}`);
    // Same streams: only the order of float64 sums differs.
    for (let l = 0; l < L; l++) expect(Math.abs(ours[l]! - numpy.given![l]!)).toBeLessThan(1e-9);
    // Its own float64 forward: our streams are fp32 (measured differences are about 1e-6).
    for (let l = 0; l < L; l++) expect(Math.abs(ours[l]! - numpy.forward[l]!)).toBeLessThan(1e-4);
    expect(leastInfluential(numpy.forward, 2)).toEqual(leastInfluential(ours, 2));
  });

  it('SLEB losses agree with numpy float64 forward passes of the model without those blocks', async () => {
    const few = windows.slice(0, 2);
    const sleb = await slebSelect(ir, { windows: few, backend }, 2);
    const L = ir.config.numLayers;
    const first = sleb.order[0]!;
    const round2 = Array.from({ length: L }, (_, b) => b).filter((b) => b !== first);
    const sets = [[], ...Array.from({ length: L }, (_, b) => [b]), ...round2.map((b) => [first, b])];
    const numpy = await numpyLosses(few, sets);
    console.log(`SLEB on ${few.length} windows: base ${sleb.baseLoss.toFixed(6)}, rounds ${JSON.stringify(sleb.losses)}`);
    console.log(`numpy: ${numpy.map((l) => l.toFixed(6)).join(', ')}`);
    const ours = [sleb.baseLoss, ...sleb.losses[0]!.map((l) => l!), ...round2.map((b) => sleb.losses[1]![b]!)];
    expect(ours).toHaveLength(numpy.length);
    // fp32 streams and logits against float64 throughout.
    for (const [i, l] of ours.entries()) expect(Math.abs(l - numpy[i]!)).toBeLessThan(1e-4);
    expect(sleb.losses[1]![first]).toBeNull();
    const argmin = (xs: readonly number[]) => xs.indexOf(Math.min(...xs));
    expect(first).toBe(argmin(numpy.slice(1, L + 1)));
    expect(sleb.order[1]).toBe(round2[argmin(numpy.slice(L + 1))]);
  });

  it('drop1 (SLEB) beats drop1-last; drop1-bi removes the same block', async () => {
    await measure('drop1');
    await measure('drop1-last');
    const bi = await compressModel(ir, planCompression(parseRecipe('drop1-bi'), ir.config), {
      quantizer,
      calibration: { windows, backend },
    });
    expect(removed.get('drop1-last')).toEqual([4]);
    expect(removed.get('drop1')).not.toEqual([4]);
    expect(bi.layerRemoval!.removed).toEqual(removed.get('drop1'));
    expect(ppl.get('drop1')!).toBeLessThan(ppl.get('drop1-last')!);
  });

  it('drop2 (SLEB) beats drop2-last; Block Influence (drop2-bi) removes two adjacent blocks and loses to it', async () => {
    const sleb = await measure('drop2');
    await measure('drop2-bi');
    await measure('drop2-last');
    console.log(`SLEB losses per round: ${JSON.stringify(sleb.layerRemoval!.losses)}`);
    expect(sleb.layerRemoval!.lossWindows).toBe(SLEB_WINDOWS); // the first 8 of the 32
    expect(removed.get('drop2-last')).toEqual([3, 4]);
    expect(ppl.get('drop2')!).toBeLessThan(ppl.get('drop2-last')!);
    // Block Influence is scored once, on the whole model. Blocks 2 and 3 both barely turn the
    // stream, each partly because the other is there; without both, it costs more than without
    // the last two. SLEB's second round sees that (see recipe-grammar.md). This asserts what is true today.
    expect(removed.get('drop2-bi')).toEqual([2, 3]);
    expect(ppl.get('drop2-bi')!).toBeGreaterThan(ppl.get('drop2-last')!);
    expect(ppl.get('drop2')!).toBeLessThan(ppl.get('drop2-bi')!);
  });
});

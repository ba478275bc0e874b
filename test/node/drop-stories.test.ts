import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockInfluence } from '../../src/compress/block-influence.ts';
import { wasmCalibBackend, type CalibBackend } from '../../src/compress/calib-backend.ts';
import { calibrationWindows, DEFAULT_WINDOW_COUNT } from '../../src/compress/calibration-windows.ts';
import { leastInfluential } from '../../src/compress/layer-drop.ts';
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
 * Layer removal on the real stories260K model (5 blocks), as issue 14 asks: blocks scored on
 * tinystories_calibration.txt only (32 windows of 512 tokens, seed 0: every fourth of the
 * default 128, as calibrated-stories.test.ts does for the quick methods), perplexity on the
 * first 100 stories of tinystories_eval.txt on onnxruntime-web, against removing the last
 * blocks. The scores are checked against an independent numpy computation
 * (test/independent/block_influence.py). The table with sizes and times comes from
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

// Four compressions with their 31,677-token evaluations, and the numpy forward: a minute on a
// quiet 2-core machine, several when others share it. No figure here is a time.
describe('stories260K: the blocks of lowest Block Influence against the last blocks', { timeout: 900_000 }, () => {
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

  it('drop1 beats drop1-last', async () => {
    const scored = await measure('drop1');
    await measure('drop1-last');
    console.log(`Block Influence on 32 windows: ${scored.layerRemoval!.scores!.map((s) => s.toFixed(4)).join(', ')}`);
    expect(removed.get('drop1-last')).toEqual([4]);
    expect(removed.get('drop1')).not.toEqual([4]);
    expect(ppl.get('drop1')!).toBeLessThan(ppl.get('drop1-last')!);
  });

  it('drop2 against drop2-last: the two lowest scores are adjacent blocks, and removing both costs more than the last two', async () => {
    await measure('drop2');
    await measure('drop2-last');
    expect(removed.get('drop2-last')).toEqual([3, 4]);
    // Block Influence is scored once, on the whole model. Blocks 2 and 3 both barely turn the
    // stream, each partly because the other is there; without both, it costs more than without
    // the last two. Re-scoring after each removal (measured: it then picks block 1) does not help
    // on this model either; see recipe-grammar.md. This asserts what is true today.
    expect(removed.get('drop2')).toEqual([2, 3]);
    expect(ppl.get('drop2')!).toBeGreaterThan(ppl.get('drop2-last')!);
  });
});

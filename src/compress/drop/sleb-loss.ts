import { ShrinkrayError } from '../../errors.ts';
import type { ModelIR } from '../../model/ir.ts';
import { rmsNorm, type RopeTable } from '../../model/reference-ops.ts';
import { layerRopeTables } from '../../model/reference-layer-ops.ts';
import { modelTensor } from '../../model/tensor-table.ts';
import { embedWindows, type InfluenceOptions } from './block-influence.ts';
import { BlockRunner } from '../block-runner.ts';
import type { CalibrationInput } from '../calibrated-model.ts';
import { readLayer } from '../calibrated-model.ts';

/**
 * SLEB's greedy block removal (Song et al. 2024): N rounds; in each, every remaining block is
 * tried out and the one whose removal (with the blocks already gone) raises the calibration
 * loss least leaves. The loss is the mean next-token NLL over the first SLEB_WINDOWS windows
 * (the windows are already a seeded random draw, so the first ones are a fixed random subset).
 *
 * Cost: each round first runs the kept model once, caching the residual stream entering every
 * kept block (memory: kept blocks × windows × T × dim floats), then a candidate starts from the
 * stream entering it and reruns only the kept blocks after it, plus the head (final norm and
 * classifier). With k kept blocks a round is k + k(k−1)/2 block passes and k + 1 heads, over
 * SLEB_WINDOWS windows: N rounds, about N × L²/2 block passes, where N × L full passes (N × L²
 * block passes) without the cache. stories260K (5 blocks, 8 windows of 512 tokens), N = 2: 25 block passes
 * and 11 heads, 4 to 14 s measured on a shared 2-core machine. Losses are summed in float64; ties go
 * to the later block, as in Block Influence.
 */
export const SLEB_WINDOWS = 8;

export interface SlebResult {
  removed: number[]; // original block indices, ascending
  order: number[]; // the same, in the order the rounds removed them
  /** Per round: the calibration loss without each original block (and the earlier rounds' blocks); null where already removed. */
  losses: (number | null)[][];
  baseLoss: number; // of the whole float model on the same windows
  windows: number; // calibration windows the losses were measured on (at most SLEB_WINDOWS)
}

export async function slebSelect(ir: ModelIR, input: CalibrationInput, count: number, o: InfluenceOptions = {}): Promise<SlebResult> {
  const c = ir.config;
  const L = c.numLayers;
  if (!(count >= 1 && count < L))
    throw new ShrinkrayError('bad_argument', `cannot remove ${count} of ${L} decoder blocks; expected 1..${L - 1}`);
  const windows = input.windows.slice(0, SLEB_WINDOWS);
  const embedded = await embedWindows(ir, windows);
  const rope = layerRopeTables(c, 0, Math.max(...windows.map((w) => w.length)));
  const head = await readHead(ir);
  const run = new Runner(ir, input, rope, o.signal);
  const gone = new Set<number>();
  const losses: (number | null)[][] = [];
  let baseLoss = NaN;
  for (let round = 0; round < count; round++) {
    const kept = Array.from({ length: L }, (_, l) => l).filter((l) => !gone.has(l));
    // entering[i]: the stream entering kept[i] (entering[kept.length]: the kept model's output).
    const entering: Float32Array[][] = [embedded.map((x) => Float32Array.from(x))];
    for (const l of kept) entering.push(await run.block(l, entering[entering.length - 1]!));
    if (round === 0) baseLoss = await nll(ir, input, head, entering[kept.length]!, windows);
    const row: (number | null)[] = new Array<number | null>(L).fill(null);
    for (let i = 0; i < kept.length; i++) {
      o.onProgress?.({
        stage: 'calibrate',
        done: round * L + i,
        total: count * L,
        tensor: `SLEB round ${round + 1}: without block ${kept[i]}`,
      });
      let x = entering[i]!;
      for (const l of kept.slice(i + 1)) x = await run.block(l, x);
      row[kept[i]!] = await nll(ir, input, head, x, windows);
    }
    losses.push(row);
    let best = -1;
    for (const l of kept) if (best < 0 || row[l]! < row[best]! || (row[l] === row[best] && l > best)) best = l; // ties: the later block
    gone.add(best);
  }
  o.onProgress?.({ stage: 'calibrate', done: count * L, total: count * L, tensor: 'SLEB' });
  return { removed: [...gone].sort((a, b) => a - b), order: [...gone], losses, baseLoss, windows: windows.length };
}

/** Runs one float block over copies of the windows' streams (the cache stays untouched). */
class Runner {
  constructor(
    private readonly ir: ModelIR,
    private readonly input: CalibrationInput,
    private readonly rope: (layer: number) => RopeTable | null, // layerRopeTables
    private readonly signal?: AbortSignal,
  ) {}
  async block(layer: number, x: readonly Float32Array[]): Promise<Float32Array[]> {
    const copy = x.map((w) => Float32Array.from(w));
    await new BlockRunner(
      this.input.backend,
      this.ir.config,
      await readLayer(this.ir, layer),
      copy,
      this.rope(layer),
      this.signal,
      layer,
    ).pass('out');
    return copy; // pass('out') replaced each window with the block's output
  }
}

interface Head {
  norm: Float32Array; // [dim]
  classifier: Float32Array; // [vocab, dim] (the embedding when tied)
}

async function readHead(ir: ModelIR): Promise<Head> {
  const c = ir.config;
  const read = async (key: 'finalNorm' | 'embedding' | 'classifier') => {
    const t = modelTensor(c, key);
    const h = ir.tensors.get(t.name);
    if (!h) throw new ShrinkrayError('bad_file', `model has no tensor '${t.name}' (expected shape [${t.shape.join(', ')}])`);
    return h.read();
  };
  return { norm: await read('finalNorm'), classifier: await read(c.tieWordEmbeddings ? 'embedding' : 'classifier') };
}

/** Rows of logits computed at once: [ROWS, vocab] floats, so a 49k vocabulary stays near 25 MB. */
const ROWS = 128;

/** Mean next-token NLL (nats) of the final streams over every predicted token of every window; summed in float64. */
async function nll(
  ir: ModelIR,
  input: CalibrationInput,
  head: Head,
  streams: Float32Array[],
  windows: readonly Int32Array[],
): Promise<number> {
  const { hiddenSize: dim, vocabSize: vocab, rmsNormEps } = ir.config;
  let sum = 0;
  let n = 0;
  for (let w = 0; w < windows.length; w++) {
    const ids = windows[w]!;
    const T = ids.length;
    const h = rmsNorm(streams[w]!, head.norm, T, dim, rmsNormEps); // [T, dim]
    for (let t0 = 0; t0 < T - 1; t0 += ROWS) {
      const rows = Math.min(ROWS, T - 1 - t0); // position t predicts ids[t + 1]; the last predicts nothing here
      const logits = await input.backend.linear(h.subarray(t0 * dim, (t0 + rows) * dim), rows, head.classifier, vocab, dim, null); // [rows, vocab]
      for (let r = 0; r < rows; r++) {
        const z = logits.subarray(r * vocab, (r + 1) * vocab);
        let max = -Infinity;
        for (let v = 0; v < vocab; v++) if (z[v]! > max) max = z[v]!;
        let e = 0;
        for (let v = 0; v < vocab; v++) e += Math.exp(z[v]! - max);
        sum += max + Math.log(e) - z[ids[t0 + r + 1]!]!;
        n++;
      }
    }
  }
  if (n === 0) throw new ShrinkrayError('bad_argument', 'SLEB needs calibration windows of at least 2 tokens');
  return sum / n;
}

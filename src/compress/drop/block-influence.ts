import { ShrinkrayError } from '../../errors.ts';
import type { ModelIR } from '../../model/ir.ts';
import { layerRopeTables, scaleInPlace } from '../../model/reference-layer-ops.ts';
import { modelTensor } from '../../model/tensor-table.ts';
import { BlockRunner } from '../block-runner.ts';
import type { CalibrationInput, CalibrationProgress } from '../calibrated-model.ts';
import { readLayer } from '../calibrated-model.ts';

/**
 * ShortGPT's Block Influence (Men et al. 2024) of every decoder block of the float model:
 *   BI_l = 1 − mean over the calibration tokens t of cos(h_l(t), h_{l+1}(t)),
 * h_l being the residual stream entering block l. A block that barely turns the stream
 * (BI near 0) adds little that the next blocks need; removing the lowest-BI blocks costs least.
 * One pass of the float model over the windows, block by block (BlockRunner, the calibrated
 * methods' own forward), so memory is one block's weights and the windows' [T, dim] streams;
 * each window's input is copied only while its cosines are taken. Cosines are summed in float64.
 */
export interface InfluenceOptions {
  signal?: AbortSignal;
  onProgress?: (p: CalibrationProgress) => void;
  /** Sees each block's input and output stream of each window (the tests check the cosines independently). */
  onBlock?: (layer: number, window: number, input: Float32Array, output: Float32Array) => void;
}

export async function blockInfluence(ir: ModelIR, input: CalibrationInput, o: InfluenceOptions = {}): Promise<number[]> {
  const c = ir.config;
  const dim = c.hiddenSize;
  const x = await embedWindows(ir, input.windows);
  const maxT = Math.max(...input.windows.map((w) => w.length));
  const rope = layerRopeTables(c, 0, maxT);
  const tokens = input.windows.reduce((n, w) => n + w.length, 0);
  const scores: number[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    o.onProgress?.({ stage: 'calibrate', done: l, total: c.numLayers, tensor: `scoring block ${l}` });
    const runner = new BlockRunner(input.backend, c, await readLayer(ir, l), x, rope(l), o.signal, l);
    let cosSum = 0;
    for (let w = 0; w < x.length; w++) {
      const before = Float32Array.from(x[w]!);
      await runner.pass('out', {}, w); // replaces x[w] with the block's output
      const after = x[w]!;
      o.onBlock?.(l, w, before, after);
      for (let t = 0; t < before.length / dim; t++) cosSum += cosine(before, after, t * dim, dim);
    }
    scores.push(1 - cosSum / tokens);
  }
  o.onProgress?.({ stage: 'calibrate', done: c.numLayers, total: c.numLayers, tensor: 'scoring blocks' });
  return scores;
}

/** cos of the `dim` values at `at` in a and b; 1 when either is all zeros (nothing turned). */
function cosine(a: Float32Array, b: Float32Array, at: number, dim: number): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = at; i < at + dim; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa === 0 || bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
}

/** Each window's token embeddings: the stream entering block 0, [T, dim] per window. */
export async function embedWindows(ir: ModelIR, windows: readonly Int32Array[]): Promise<Float32Array[]> {
  const c = ir.config;
  if (windows.length === 0) throw new ShrinkrayError('bad_argument', 'scoring the decoder blocks needs at least one window of tokens');
  const emb = modelTensor(c, 'embedding');
  const handle = ir.tensors.get(emb.name);
  if (!handle) throw new ShrinkrayError('bad_file', `model has no tensor '${emb.name}' (expected shape [${emb.shape.join(', ')}])`);
  const table = await handle.read(); // [vocab, dim]
  const dim = c.hiddenSize;
  return windows.map((ids, w) => {
    if (ids.length < 1 || ids.length > c.maxPositionEmbeddings)
      throw new ShrinkrayError('bad_argument', `calibration window ${w} has ${ids.length} tokens; expected 1..${c.maxPositionEmbeddings}`);
    const out = new Float32Array(ids.length * dim);
    ids.forEach((id, t) => {
      if (!(id >= 0 && id < c.vocabSize))
        throw new ShrinkrayError('bad_argument', `calibration window ${w}: token id ${id} is outside the vocabulary [0, ${c.vocabSize})`);
      out.set(table.subarray(id * dim, (id + 1) * dim), t * dim);
    });
    return scaleInPlace(out, c.embeddingScale); // Gemma: sqrt(hidden_size)
  });
}

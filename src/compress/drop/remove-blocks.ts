import { ShrinkrayError } from '../../errors.ts';
import type { ModelIR } from '../../model/ir.ts';
import { blockInfluence, type InfluenceOptions } from './block-influence.ts';
import { slebSelect } from './sleb-loss.ts';
import type { CalibrationInput } from '../calibrated-model.ts';
import { dropBlocksIr, formatDrop, lastBlocks, leastInfluential, type DropStep, type LayerRemoval } from './drop-blocks.ts';

/**
 * The first thing a `drop` recipe does: choose the blocks (SLEB's greedy calibration loss, the
 * lowest Block Influence on the float model, or the last N), then hand the rest of the pipeline
 * the model without them. Block Influence scores all blocks once, on the float model; SLEB
 * re-measures after each removal. See recipe-grammar.md (Layer removal) for what each costs.
 */
export async function removeBlocks(
  ir: ModelIR,
  drop: DropStep,
  calibration: CalibrationInput | undefined,
  o: InfluenceOptions = {},
): Promise<{ ir: ModelIR; removal: LayerRemoval }> {
  const layers = ir.config.numLayers;
  if (drop.choose === 'last') {
    const removed = lastBlocks(layers, drop.count);
    return { ir: dropBlocksIr(ir, removed), removal: { method: 'last', layers, removed, scores: null, seconds: 0 } };
  }
  if (!calibration)
    throw new ShrinkrayError('bad_argument', `${formatDrop(drop)} scores the decoder blocks on calibration text: send calibration windows`);
  const started = performance.now();
  if (drop.choose === 'loss') {
    const { removed, order, losses, baseLoss, windows } = await slebSelect(ir, calibration, drop.count, o);
    const seconds = (performance.now() - started) / 1000;
    return {
      ir: dropBlocksIr(ir, removed),
      removal: { method: 'sleb', layers, removed, scores: null, losses, order, baseLoss, lossWindows: windows, seconds },
    };
  }
  const scores = await blockInfluence(ir, calibration, o);
  const removed = leastInfluential(scores, drop.count);
  const seconds = (performance.now() - started) / 1000;
  return { ir: dropBlocksIr(ir, removed), removal: { method: 'block-influence', layers, removed, scores, seconds } };
}

import { ShrinkrayError } from '../errors.ts';
import type { ModelIR } from '../model/ir.ts';
import { blockInfluence, type InfluenceOptions } from './block-influence.ts';
import type { CalibrationInput } from './calibrated-model.ts';
import { dropLayersIr, lastBlocks, leastInfluential, type DropStep, type LayerRemoval } from './layer-drop.ts';

/**
 * The first thing a `drop` recipe does: choose the blocks (the lowest Block Influence on the
 * float model, or the last N), then hand the rest of the pipeline the model without them.
 * All blocks are scored once, on the float model, rather than re-scored after each removal:
 * see recipe-grammar.md (Layer removal) for why.
 */
export async function removeBlocks(
  ir: ModelIR,
  drop: DropStep,
  calibration: CalibrationInput | undefined,
  o: InfluenceOptions = {},
): Promise<{ ir: ModelIR; removal: LayerRemoval }> {
  if (drop.choose === 'last') {
    const removed = lastBlocks(ir.config.numLayers, drop.count);
    return { ir: dropLayersIr(ir, removed), removal: { method: 'last', layers: ir.config.numLayers, removed, scores: null, seconds: 0 } };
  }
  if (!calibration)
    throw new ShrinkrayError('bad_argument', `drop${drop.count} scores the decoder blocks on calibration text: send calibration windows`);
  const started = performance.now();
  const scores = await blockInfluence(ir, calibration, o);
  const removed = leastInfluential(scores, drop.count);
  const seconds = (performance.now() - started) / 1000;
  return { ir: dropLayersIr(ir, removed), removal: { method: 'block-influence', layers: ir.config.numLayers, removed, scores, seconds } };
}

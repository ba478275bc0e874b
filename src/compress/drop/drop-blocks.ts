import { ShrinkrayError } from '../../errors.ts';
import type { ModelConfig } from '../../model/config.ts';
import type { ModelIR, TensorHandle } from '../../model/ir.ts';
import { parseTensorName, renameToLayer } from '../../model/tensor-table.ts';

/**
 * Block removal (`drop{N}`, `drop{N}-last`): whole decoder blocks leave the model, and what
 * remains is an ordinary Llama with fewer layers: the kept blocks are renumbered 0..L-N-1 in
 * their original order, config.json's num_hidden_layers says L-N, and every runner (reference
 * forward, onnxruntime-web, the CPU engine, transformers.js) reads it like any other model.
 * Which blocks go is chosen before anything else runs (sleb-loss.ts: SLEB's greedy calibration
 * loss; block-influence.ts: ShortGPT's Block Influence, `-bi`), so
 * every later step (structured pruning, masks, GPTQ/AWQ) sees only the kept blocks.
 */
export interface DropStep {
  count: number; // N: blocks removed, 1..numLayers-1
  /** SLEB: greedily, the block whose removal costs least calibration loss; the N lowest Block Influence scores (`-bi`); or the last N blocks. */
  choose: 'loss' | 'influence' | 'last';
}

/** What the report says about a removal. */
export interface LayerRemoval {
  method: 'sleb' | 'block-influence' | 'last';
  layers: number; // decoder blocks of the source model
  removed: number[]; // original block indices, ascending
  /** Block Influence per original block (1 - mean cos(h_in, h_out) over the calibration tokens); null for SLEB and `-last`. */
  scores: number[] | null;
  /** SLEB: per round, the calibration loss (mean NLL, nats) without each original block and the earlier rounds' blocks; null where already gone. */
  losses?: (number | null)[][];
  order?: number[]; // SLEB: the removed blocks in round order (round r removed order[r])
  baseLoss?: number; // SLEB: the whole model's loss on the same windows
  lossWindows?: number; // SLEB: how many calibration windows (the first ones) the losses were measured on
  seconds: number; // scoring time (0 for `-last`)
}

/** The step as written in a canonical recipe: `drop2`, `drop2-bi`, `drop2-last`. */
export function formatDrop(d: DropStep): string {
  return `drop${d.count}${d.choose === 'last' ? '-last' : d.choose === 'influence' ? '-bi' : ''}`;
}

/** Why `drop` cannot apply to a model with `config` (empty when it can). */
export function dropProblems(d: DropStep, config: ModelConfig): string[] {
  const L = config.numLayers;
  if (d.count >= L) {
    const allowed = L > 1 ? `; allowed ${formatDrop({ ...d, count: 1 })}..${formatDrop({ ...d, count: L - 1 })}` : '';
    return [`${formatDrop(d)} would remove ${d.count} of the model's ${L} decoder blocks; at least one must remain${allowed}`];
  }
  return [];
}

/**
 * The config of the model without the blocks in `removed`: fewer layers, SmolLM3's NoPE layers and
 * Gemma 3's sliding layers renumbered as the kept blocks are.
 */
export function droppedConfig(config: ModelConfig, removed: readonly number[]): ModelConfig {
  const gone = new Set(removed);
  const renumber = (layers: readonly number[]) => layers.filter((l) => !gone.has(l)).map((l) => l - removed.filter((r) => r < l).length);
  const out = withNopeLayers({ ...config, numLayers: config.numLayers - gone.size }, config.nopeLayers && renumber(config.nopeLayers));
  return config.slidingLayers ? { ...out, slidingLayers: renumber(config.slidingLayers) } : out;
}

/** `config` with the NoPE layers `nope` (none when absent or empty). */
export function withNopeLayers(config: ModelConfig, nope: readonly number[] | undefined): ModelConfig {
  const { nopeLayers: _old, ...rest } = config;
  return nope && nope.length > 0 ? { ...rest, nopeLayers: nope } : rest;
}

/** `config` with the per-layer lists (SmolLM3's NoPE layers, Gemma 3's sliding layers) of `kept`, the config of the blocks kept. */
export function withKeptLayerKinds(config: ModelConfig, kept: ModelConfig): ModelConfig {
  const out = withNopeLayers(config, kept.nopeLayers);
  return kept.slidingLayers ? { ...out, slidingLayers: kept.slidingLayers } : out;
}

/** The last `count` block indices of a `numLayers`-block model. */
export function lastBlocks(numLayers: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => numLayers - count + i);
}

/** The `count` blocks with the lowest scores (ties: the later block, as the last blocks are the usual baseline), ascending. */
export function leastInfluential(scores: readonly number[], count: number): number[] {
  const order = scores.map((s, i) => i).sort((a, b) => scores[a]! - scores[b]! || b - a);
  return order.slice(0, count).sort((a, b) => a - b);
}

/**
 * `ir` without the blocks in `removed`; the kept blocks' tensors are renamed to their new
 * index (model.layers.3.* becomes model.layers.2.* once block 1 is gone). Handles are reused:
 * nothing is read until the pipeline reads it.
 */
export function dropBlocksIr(ir: ModelIR, removed: readonly number[]): ModelIR {
  const L = ir.config.numLayers;
  const gone = new Set(removed);
  for (const b of gone) {
    if (!(Number.isInteger(b) && b >= 0 && b < L))
      throw new ShrinkrayError('bad_argument', `cannot remove decoder block ${b}: the model has blocks 0..${L - 1}`);
  }
  if (gone.size >= L) throw new ShrinkrayError('bad_argument', `cannot remove all ${L} decoder blocks; at least one must remain`);
  const newIndex = new Map<number, number>();
  for (let l = 0, next = 0; l < L; l++) if (!gone.has(l)) newIndex.set(l, next++);

  const tensors = new Map<string, TensorHandle>();
  for (const [name, handle] of ir.tensors) {
    const { layer } = parseTensorName(name);
    if (layer === null) {
      tensors.set(name, handle);
      continue;
    }
    const to = newIndex.get(layer);
    if (to === undefined) continue; // a removed block
    const renamed = renameToLayer(name, to);
    tensors.set(renamed, {
      name: renamed,
      dtype: handle.dtype,
      shape: handle.shape,
      byteLength: handle.byteLength,
      read: () => handle.read(),
    });
  }
  return { config: droppedConfig(ir.config, [...gone]), tensors };
}

/**
 * config.json fields with one entry per block, cut to the kept blocks: `layer_types` (Qwen3's
 * and newer configs list every block's attention kind; transformers checks its length against
 * num_hidden_layers). Merged over the source's config.json after toHfConfig's fields.
 */
export function keptBlockFields(configJson: Record<string, unknown>, removal: LayerRemoval | null): Record<string, unknown> {
  if (!removal || !Array.isArray(configJson.layer_types)) return {};
  const gone = new Set(removal.removed);
  return { layer_types: configJson.layer_types.filter((_, i) => !gone.has(i)) };
}

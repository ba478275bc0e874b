import { pruneLayerStructured, type StructuredPlan, type StructuredScores } from './structured-prune.ts';
import type { ModelConfig } from '../model/config.ts';
import type { ModelIR } from '../model/ir.ts';
import { tensorNames } from '../model/tensor-table.ts';
import { layerwiseIr } from './layerwise-ir.ts';

/**
 * A ModelIR whose decoder layers are structurally pruned on first read. Pruning needs a
 * whole layer at once (its shapes change as a unit), so reading any tensor of layer l
 * prunes layer l and keeps that one layer's result: peak memory stays about one layer,
 * and the builder, which walks layers in order, reads each layer's source once.
 */
export function structuredIr(
  ir: ModelIR,
  plan: StructuredPlan,
  configOut: ModelConfig,
  scores?: (layer: number) => StructuredScores,
): ModelIR {
  const source = ir.config;
  let cached: { layer: number; tensors: Map<string, Float32Array> } | null = null;
  const prunedLayer = async (layer: number): Promise<Map<string, Float32Array>> => {
    if (cached?.layer === layer) return cached.tensors;
    const names = Object.values(tensorNames.layer(layer, source)).filter((n) => ir.tensors.has(n));
    const input = new Map<string, Float32Array>();
    for (const name of names) input.set(name, await ir.tensors.get(name)!.read());
    const { tensors } = pruneLayerStructured(source, layer, input, plan, scores?.(layer));
    cached = { layer, tensors };
    return tensors;
  };

  return layerwiseIr(ir, configOut, prunedLayer, (t) => t.role !== 'norm'); // norms keep their shape and values
}

import { pruneLayerStructured, type StructuredPlan } from './structured-prune.ts';
import type { ModelConfig } from '../model/config.ts';
import type { ModelIR, TensorHandle } from '../model/ir.ts';
import { elementCount, layerTensors, tensorNames } from '../model/tensor-table.ts';

/**
 * A ModelIR whose decoder layers are structurally pruned on first read. Pruning needs a
 * whole layer at once (its shapes change as a unit), so reading any tensor of layer l
 * prunes layer l and keeps that one layer's result: peak memory stays about one layer,
 * and the builder, which walks layers in order, reads each layer's source once.
 */
export function structuredIr(ir: ModelIR, plan: StructuredPlan, configOut: ModelConfig): ModelIR {
  const source = ir.config;
  let cached: { layer: number; tensors: Map<string, Float32Array> } | null = null;
  const prunedLayer = async (layer: number): Promise<Map<string, Float32Array>> => {
    if (cached?.layer === layer) return cached.tensors;
    const names = Object.values(tensorNames.layer(layer)).filter((n) => ir.tensors.has(n));
    const input = new Map<string, Float32Array>();
    for (const name of names) input.set(name, await ir.tensors.get(name)!.read());
    const { tensors } = pruneLayerStructured(source, layer, input, plan);
    cached = { layer, tensors };
    return tensors;
  };

  const outShapes = new Map<string, readonly number[]>();
  for (let l = 0; l < configOut.numLayers; l++) {
    for (const t of layerTensors(configOut, l)) if (t.role !== 'norm') outShapes.set(t.name, t.shape); // norms keep their shape
  }

  const tensors = new Map<string, TensorHandle>();
  for (const [name, handle] of ir.tensors) {
    const layer = layerOf(name);
    const shape = outShapes.get(name);
    if (layer === null || !shape) {
      tensors.set(name, handle); // embedding, norms, classifier: untouched
      continue;
    }
    tensors.set(name, {
      name,
      shape,
      dtype: 'F32',
      byteLength: elementCount(shape) * 4,
      read: async () => (await prunedLayer(layer)).get(name)!,
    });
  }
  return { config: configOut, tensors };
}

function layerOf(name: string): number | null {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

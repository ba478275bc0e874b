import type { ModelConfig } from '../model/config.ts';
import type { ModelIR, TensorHandle } from '../model/ir.ts';
import { elementCount, layerTensors, type TensorEntry } from '../model/tensor-table.ts';

/**
 * A ModelIR whose decoder-layer tensors are made a whole layer at a time, on first read:
 * structured pruning and calibrated compression both change a layer as a unit, and the
 * graph builder walks the layers in order, so only the layer being read need be alive.
 * The tensors `configOut`'s table lists for each layer (those `replaced` picks) take its
 * shape and come from `layer(l)`; everything else (embedding, final norm, classifier, and
 * what `replaced` leaves) passes through with its own handle. Tensor order stays `ir`'s.
 */
export function layerwiseIr(
  ir: ModelIR,
  configOut: ModelConfig,
  layer: (l: number) => Promise<ReadonlyMap<string, Float32Array>>,
  replaced: (t: TensorEntry) => boolean = () => true,
): ModelIR {
  const made = new Map<string, TensorEntry>();
  for (let l = 0; l < configOut.numLayers; l++) for (const t of layerTensors(configOut, l)) if (replaced(t)) made.set(t.name, t);
  const tensors = new Map<string, TensorHandle>();
  for (const [name, handle] of ir.tensors) {
    const out = made.get(name);
    if (!out) {
      tensors.set(name, handle);
      continue;
    }
    const at = out.layer!;
    tensors.set(name, {
      name,
      shape: out.shape,
      dtype: 'F32',
      byteLength: elementCount(out.shape) * 4,
      read: async () => (await layer(at)).get(name)!,
    });
  }
  return { config: configOut, tensors };
}

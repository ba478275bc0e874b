import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from '../formats/byte-source.ts';
import { DTYPE_BYTES, makeTensor, type SafetensorsTensor } from '../formats/safetensors.ts';
import type { ModelConfig } from './config.ts';
import { fusedLayerTensors } from './tensor-table.ts';

/**
 * Phi-3 stores q/k/v as one qkv_proj [(H + 2·KV)·hd, hidden] and gate/up as one gate_up_proj
 * [2·ffn, hidden] (tensor-table.ts FUSED_TENSORS). A row-major matrix's run of rows is a
 * contiguous run of bytes, so each part becomes a tensor handle of its own over the same file
 * bytes, under Llama's name: no copy, and the streaming reads, the quantizers and the writers
 * see an ordinary Llama layer. The fused names leave the map, so nothing reads them twice.
 */
export function splitFusedTensors(
  config: ModelConfig,
  tensors: Map<string, SafetensorsTensor>,
  sourceOf: Map<string, ByteSource>,
  where: string,
  configName: string,
): void {
  for (let i = 0; i < config.numLayers; i++) {
    for (const fused of fusedLayerTensors(config, i)) {
      const t = tensors.get(fused.name);
      // A checkpoint already split (written by a tool that unfuses) names the parts: the table's check reads them.
      if (!t) continue;
      const rows = fused.parts.reduce((n, p) => n + p.shape[0]!, 0);
      const cols = fused.parts[0]!.shape[1]!;
      if (t.shape.length !== 2 || t.shape[0] !== rows || t.shape[1] !== cols) {
        throw new ShrinkrayError(
          'bad_file',
          `${where}: tensor '${fused.name}' has shape [${t.shape.join(', ')}], expected [${rows}, ${cols}] (${fused.dims.join(', ')}) from ${configName}`,
        );
      }
      const src = sourceOf.get(fused.name);
      if (!src) throw new ShrinkrayError('bad_file', `${where}: tensor '${fused.name}' has no file`);
      const rowBytes = cols * DTYPE_BYTES[t.dtype];
      let row = 0;
      for (const part of fused.parts) {
        if (tensors.has(part.name))
          throw new ShrinkrayError('bad_file', `${where}: holds both '${fused.name}' and '${part.name}'; which one is meant?`);
        const n = part.shape[0]!;
        tensors.set(part.name, makeTensor(src, part.name, t.dtype, [n, cols], t.fileOffset + row * rowBytes, n * rowBytes));
        sourceOf.set(part.name, src);
        row += n;
      }
      tensors.delete(fused.name);
      sourceOf.delete(fused.name);
    }
  }
}

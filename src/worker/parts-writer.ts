import { encodeTensorData, safetensorsHeader } from '../formats/safetensors.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { toGenerationConfig, toHfConfig } from '../model/hf-config.ts';
import { hfStoredValues } from '../model/gemma-norms.ts';
import type { HfModelParts } from '../model/import-llama2c.ts';
import type { ModelWriter } from './model-writer.ts';

/**
 * An imported model (llama2.c, GGUF) written into the store as a Hugging Face folder:
 * model.safetensors tensor by tensor (one tensor decoded in memory at a time, read from the
 * File by slices), then config.json and the converted tokenizer files.
 */
export async function writeModelParts(writer: ModelWriter, parts: HfModelParts): Promise<void> {
  const tensors = [...parts.ir.tensors.values()];
  const stored = hfStoredValues(parts.ir.config); // Gemma's norms: the folder holds w, the IR 1 + w (gemma-norms.ts)
  const header = safetensorsHeader(
    tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape })),
    { format: 'pt' },
  );
  await writer.writeStream(
    MODEL_FILES.weights,
    (async function* () {
      yield header;
      for (const t of tensors) yield encodeTensorData({ name: t.name, dtype: 'F32', shape: t.shape, data: stored(t.name, await t.read()) });
    })(),
  );
  const { config } = parts.ir;
  await writer.writeJson(MODEL_FILES.config, toHfConfig(config));
  await writer.writeJson(MODEL_FILES.tokenizer, parts.tokenizerJson);
  await writer.writeJson(MODEL_FILES.tokenizerConfig, parts.tokenizerConfig);
  await writer.writeJson(MODEL_FILES.generationConfig, parts.generationConfig ?? toGenerationConfig(config));
}

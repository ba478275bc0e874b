import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShrinkrayError } from '../errors.ts';
import { toGenerationConfig, toHfConfig } from '../model/hf-config.ts';
import { hfStoredValues } from '../model/gemma-norms.ts';
import { encodeTensorData, safetensorsHeader, type SafetensorsTensor } from '../formats/safetensors.ts';
import type { HfModelParts } from '../model/import-llama2c.ts';
import { readJsonSource } from '../formats/json-file.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { openHfModel, weightFileBytes } from '../model/hf-model.ts';
import type { ModelIR, TensorHandle } from '../model/ir.ts';
import type { TokenizerParts } from '../runtime/runnable-model.ts';
import { TextTokenizer } from '../runtime/tokenizer.ts';
import { folderOpener } from './folder-opener.ts';

/** A model folder in Hugging Face layout, opened: tensors stay on disk until read. */
export interface LoadedModel {
  dir: string;
  ir: ModelIR;
  configJson: Record<string, unknown>; // config.json as read, for carrying its other fields over
  weightBytes: number; // bytes of the weight files (each shard once)
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  generationConfig: Record<string, unknown> | null;
  /** Tensors in the weights that the config does not use (left out of `ir`). */
  unusedTensors: string[];
  /** What a tokenizer on another thread is built from (guarded-tokenizer.ts), its files named as shown. */
  tokenizerParts: TokenizerParts;
}

export { requiredTensors } from '../model/hf-model.ts';

const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

/**
 * Writes config.json, model.safetensors (streamed: one tensor in memory at a time),
 * tokenizer.json, tokenizer_config.json and generation_config.json. Tensors keep their
 * stored dtype when their raw bytes are at hand (safetensors sources), else are fp32.
 */
export async function writeModelFolder(dir: string, parts: HfModelParts, configJson?: Record<string, unknown>): Promise<{ bytes: number }> {
  await mkdir(dir, { recursive: true });
  const { config } = parts.ir;
  const tensors = [...parts.ir.tensors.values()];
  const stored = (t: TensorHandle) => ('readBytes' in t ? t.dtype : 'F32');
  const stored32 = hfStoredValues(config); // Gemma's norms: the folder holds w, the IR 1 + w (gemma-norms.ts)
  const header = safetensorsHeader(
    tensors.map((t) => ({ name: t.name, dtype: stored(t), shape: t.shape })),
    { format: 'pt' },
  );
  const file = await open(join(dir, MODEL_FILES.weights), 'w');
  let bytes = 0;
  try {
    await file.write(header);
    bytes += header.byteLength;
    for (const t of tensors) {
      const data =
        'readBytes' in t
          ? await (t as SafetensorsTensor).readBytes()
          : encodeTensorData({ name: t.name, dtype: 'F32', shape: t.shape, data: stored32(t.name, await t.read()) });
      await file.write(data);
      bytes += data.byteLength;
    }
  } finally {
    await file.close();
  }
  const generation = parts.generationConfig ?? toGenerationConfig(config);
  const small: [string, unknown][] = [
    [MODEL_FILES.config, configJson ?? toHfConfig(config)],
    [MODEL_FILES.tokenizer, parts.tokenizerJson],
    [MODEL_FILES.tokenizerConfig, parts.tokenizerConfig],
    [MODEL_FILES.generationConfig, generation],
  ];
  for (const [name, value] of small) {
    const text = json(value);
    await writeFile(join(dir, name), text);
    bytes += Buffer.byteLength(text);
  }
  return { bytes };
}

/** Opens a folder in Hugging Face layout and checks that its weights fit its config and that tokenizer.json loads. */
export async function loadModelFolder(dir: string): Promise<LoadedModel> {
  const { open, display } = folderOpener(dir);
  const { ir, configJson, weights, unusedTensors } = await openHfModel(open, display);
  const json = async (path: string) => {
    const src = await open(path);
    return src ? readJsonSource(src) : null;
  };
  const tokenizerJson = await json(MODEL_FILES.tokenizer);
  if (!tokenizerJson)
    throw new ShrinkrayError('missing_file', `${display(MODEL_FILES.tokenizer)}: the model folder has no ${MODEL_FILES.tokenizer}`);
  const tokenizerConfig = (await json(MODEL_FILES.tokenizerConfig)) ?? {};
  const generationConfig = await json(MODEL_FILES.generationConfig);
  // Built once to check it: a tokenizer.json the library cannot load, or one of another model
  // (tokenizer-vocab.ts), fails here, naming the file, not at the first generate.
  const names = {
    tokenizer: display(MODEL_FILES.tokenizer),
    tokenizerConfig: display(MODEL_FILES.tokenizerConfig),
    chatTemplate: display(MODEL_FILES.tokenizerConfig),
    config: display(MODEL_FILES.config),
    generationConfig: display(MODEL_FILES.generationConfig),
  };
  new TextTokenizer(tokenizerJson, tokenizerConfig, ir.config, names, generationConfig);
  const tokenizerParts = { tokenizerJson, tokenizerConfig, config: ir.config, generationConfig, names };
  return {
    dir,
    ir,
    configJson,
    weightBytes: weightFileBytes(weights),
    tokenizerJson,
    tokenizerConfig,
    generationConfig,
    unusedTensors,
    tokenizerParts,
  };
}

import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from '../formats/byte-source.ts';
import { toHfConfig } from '../model/hf-config.ts';
import { encodeTensorData, safetensorsHeader, type SafetensorsTensor } from '../formats/safetensors.ts';
import type { HfModelParts } from '../model/import-llama2c.ts';
import { HF_FILES, openHfModel, parseJsonObject, weightFileBytes } from '../model/hf-model.ts';
import type { ModelIR, TensorHandle } from '../model/ir.ts';
import { fileSource } from './file-source.ts';

/** A model folder in Hugging Face layout, opened: tensors stay on disk until read. */
export interface LoadedModel {
  dir: string;
  ir: ModelIR;
  configJson: Record<string, unknown>; // config.json as read, for carrying its other fields over
  weightBytes: number; // bytes of the weight files (each shard once)
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  generationConfig: Record<string, unknown> | null;
}

export const MODEL_FILES = HF_FILES;
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
  const header = safetensorsHeader(tensors.map((t) => ({ name: t.name, dtype: stored(t), shape: t.shape })), { format: 'pt' });
  const file = await open(join(dir, MODEL_FILES.weights), 'w');
  let bytes = 0;
  try {
    await file.write(header);
    bytes += header.byteLength;
    for (const t of tensors) {
      const data = 'readBytes' in t
        ? await (t as SafetensorsTensor).readBytes()
        : encodeTensorData({ name: t.name, dtype: 'F32', shape: t.shape, data: await t.read() });
      await file.write(data);
      bytes += data.byteLength;
    }
  } finally {
    await file.close();
  }
  const generation = parts.generationConfig ?? {
    bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId.length === 1 ? config.eosTokenId[0] : config.eosTokenId,
  };
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

async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!required) return null;
    throw new ShrinkrayError('missing_file', `${path}: the model folder has no ${path.split(/[\\/]/).pop()}`);
  }
  return parseJsonObject(text, path);
}

/** Opens a folder in Hugging Face layout and checks that its weights fit its config. */
export async function loadModelFolder(dir: string): Promise<LoadedModel> {
  const { ir, configJson, weights } = await openHfModel((path) => openIfPresent(join(dir, path)), (path) => join(dir, path));
  const tokenizerJson = (await readJson(join(dir, MODEL_FILES.tokenizer), true))!;
  const tokenizerConfig = (await readJson(join(dir, MODEL_FILES.tokenizerConfig), false)) ?? {};
  const generationConfig = await readJson(join(dir, MODEL_FILES.generationConfig), false);
  return { dir, ir, configJson, weightBytes: weightFileBytes(weights), tokenizerJson, tokenizerConfig, generationConfig };
}

/** A file source, or undefined when the file does not exist. */
async function openIfPresent(path: string): Promise<ByteSource | undefined> {
  try {
    return await fileSource(path);
  } catch (e) {
    if ((e as ShrinkrayError).code === 'missing_file') return undefined;
    throw e;
  }
}

import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ShrinkrayError } from '../errors.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import { inspectOnnx } from '../formats/onnx/onnx-reader.ts';
import type { ModelConfig } from '../model/config.ts';
import type { ExternalDataFile } from '../runtime/onnx-session.ts';

/** Where a compressed (transformers.js-ready) folder keeps its files. */
export const ONNX_FOLDER_FILES = Object.freeze({
  config: 'config.json',
  model: join('onnx', 'model.onnx'),
});

export interface OnnxFolder {
  config: ModelConfig;
  configJson: Record<string, unknown>;
  modelPath: string;
  model: Uint8Array;
  externalData: ExternalDataFile[];
}

async function readRequired(path: string): Promise<Uint8Array> {
  if (!existsSync(path)) throw new ShrinkrayError('missing_file', `${path} is missing`);
  return new Uint8Array(await readFile(path));
}

/** Reads config.json, onnx/model.onnx and every external data file the model names. */
export async function readOnnxFolder(dir: string): Promise<OnnxFolder> {
  const configPath = join(dir, ONNX_FOLDER_FILES.config);
  const configBytes = await readRequired(configPath);
  let configJson: Record<string, unknown>;
  try {
    configJson = JSON.parse(new TextDecoder().decode(configBytes)) as Record<string, unknown>;
  } catch (e) {
    throw new ShrinkrayError('bad_file', `${configPath} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const config = parseHfConfig(configJson, configPath);
  const modelPath = join(dir, ONNX_FOLDER_FILES.model);
  const model = await readRequired(modelPath);
  const summary = inspectOnnx(model, modelPath);
  const externalData: ExternalDataFile[] = [];
  for (const [location, needed] of summary.externalFiles) {
    const path = join(dirname(modelPath), location);
    if (!existsSync(path)) throw new ShrinkrayError('missing_file', `${path} is missing (${modelPath} keeps its weights there)`);
    const size = (await stat(path)).size;
    if (size < needed) throw new ShrinkrayError('bad_file', `${path} holds ${size} bytes; ${modelPath} needs at least ${needed} (truncated?)`);
    externalData.push({ path: location, data: new Uint8Array(await readFile(path)) });
  }
  return { config, configJson, modelPath, model, externalData };
}

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShrinkrayError } from '../errors.ts';
import { ReferenceModel } from '../model/reference-forward.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { TextTokenizer } from '../runtime/tokenizer.ts';

/** A model ready to run from the CLI: its engine, its tokenizer and generation defaults. */
export interface LoadedEngine {
  kind: 'reference' | 'onnx';
  model: CausalLM;
  tokenizer: TextTokenizer;
  generationConfig: Record<string, unknown> | null;
}

async function readJson(dir: string, file: string, required: boolean): Promise<Record<string, unknown> | null> {
  const path = join(dir, file);
  if (!existsSync(path)) {
    if (required) throw new ShrinkrayError('missing_file', `${path} is missing`);
    return null;
  }
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ShrinkrayError('bad_file', `${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Picks the engine for a model folder: a compressed folder (onnx/model.onnx) runs on
 * onnxruntime-web; an imported one (model.safetensors) on the fp32 reference forward pass.
 */
export async function loadEngine(dir: string): Promise<LoadedEngine> {
  if (existsSync(join(dir, 'onnx', 'model.onnx'))) {
    // Imported on demand: the reference path never loads onnxruntime.
    const { loadOnnxCausalLM } = await import('../runtime/onnx-causal-lm.ts');
    const model = await loadOnnxCausalLM(dir);
    const tokenizerJson = await readJson(dir, 'tokenizer.json', true);
    const tokenizerConfig = (await readJson(dir, 'tokenizer_config.json', false)) ?? {};
    const generationConfig = await readJson(dir, 'generation_config.json', false);
    return { kind: 'onnx', model, tokenizer: new TextTokenizer(tokenizerJson!, tokenizerConfig, model.config), generationConfig };
  }
  if (existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'model.safetensors.index.json'))) {
    const { loadModelFolder } = await import('./model-folder.ts');
    const folder = await loadModelFolder(dir);
    const model = await ReferenceModel.load(folder.ir);
    const tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, folder.ir.config);
    return { kind: 'reference', model, tokenizer, generationConfig: folder.generationConfig };
  }
  throw new ShrinkrayError(
    'missing_file',
    `${dir} holds neither onnx/model.onnx (a compressed model) nor model.safetensors (an imported one)`,
  );
}

import { ShrinkrayError } from '../errors.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import type { ModelConfig } from '../model/config.ts';
import type { OpenModelFile } from '../formats/byte-source.ts';
import { readJsonSource } from '../formats/json-file.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { openHfModel } from '../model/hf-model.ts';

/**
 * Checks a model's files before it is stored (local imports) or committed (the demo):
 * config.json parsed (architecture, fields), weights' headers read and matched against the
 * config, tokenizer present and JSON. Every failure names the file; nothing is written.
 */

/** Opens and checks an HF-layout model; returns its config and the weight files it uses. */
export async function checkHfModel(open: OpenModelFile): Promise<{ config: ModelConfig; weightFiles: string[] }> {
  const { ir, weights } = await openHfModel(open);
  await requireJson(open, MODEL_FILES.tokenizer);
  const index = await open(MODEL_FILES.weightIndex);
  return { config: ir.config, weightFiles: index ? [MODEL_FILES.weightIndex, ...weights.files] : weights.files };
}

/** A zip or folder this app exported: config.json, tokenizer.json, onnx/model.onnx and shrinkray.json. */
export async function checkExportedModel(open: OpenModelFile): Promise<{ config: ModelConfig; report: Record<string, unknown> }> {
  const config = parseHfConfig(await requireJson(open, MODEL_FILES.config), MODEL_FILES.config);
  await requireJson(open, MODEL_FILES.tokenizer);
  if (!(await open(MODEL_FILES.onnxModel)))
    throw new ShrinkrayError('missing_file', `${MODEL_FILES.onnxModel}: the exported model has no ONNX graph`);
  const report = await requireJson(open, MODEL_FILES.report);
  if (typeof report.recipe !== 'string')
    throw new ShrinkrayError('bad_file', "shrinkray.json: has no 'recipe' string; is this a zip Shrinkray exported?");
  return { config, report };
}

async function requireJson(open: OpenModelFile, path: string): Promise<Record<string, unknown>> {
  const src = await open(path);
  if (!src) throw new ShrinkrayError('missing_file', `${path}: the model has no ${path}`);
  return readJsonSource(src);
}

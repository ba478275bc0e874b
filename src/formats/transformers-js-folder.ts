import { MODEL_FILES, onnxDataPath } from './model-folder-layout.ts';
import type { BuiltModel } from './onnx/graph-builder.ts';

/**
 * The files of a transformers.js-ready model folder, as paths to bytes: what the CLI writes
 * to disk and what the app zips for export. transformers.js reads config.json, the
 * tokenizer files, generation_config.json and onnx/model.onnx (dtype fp32 picks the file
 * without suffix) plus onnx/model.onnx_data when config.json says the model uses it.
 */
export interface FolderInput {
  /** The source's config.json (Hugging Face fields), already updated for the output model. */
  configJson: Record<string, unknown>;
  /** Tokenizer and other files carried over as they are (CARRIED_FILES the source has). */
  carried: ReadonlyMap<string, Uint8Array>;
  /** generation_config.json, written when the source had none to carry. */
  generationConfig: Record<string, unknown>;
  model: BuiltModel;
  /** shrinkray.json: recipe and report. */
  report: object;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n');

/**
 * config.json for our export: the model's Hugging Face fields plus what transformers.js needs.
 * dtype fp32 makes transformers.js load onnx/model.onnx on every device (its wasm default
 * would look for model_quantized.onnx); our graph has fp32 inputs and outputs whatever the
 * weights are stored as.
 */
export function transformersJsConfig(configJson: Record<string, unknown>, externalData: boolean): Record<string, unknown> {
  return {
    ...configJson,
    'transformers.js_config': { dtype: 'fp32', ...(externalData ? { use_external_data_format: { 'model.onnx': 1 } } : {}) },
  };
}

/** Paths (with '/' separators) to contents; large external data stays in chunks. */
export function transformersJsFolder(input: FolderInput): Map<string, Uint8Array | Uint8Array[]> {
  const { model } = input;
  const files = new Map<string, Uint8Array | Uint8Array[]>();
  files.set(MODEL_FILES.config, json(transformersJsConfig(input.configJson, model.externalData !== null)));
  if (!input.carried.has(MODEL_FILES.generationConfig)) files.set(MODEL_FILES.generationConfig, json(input.generationConfig));
  for (const [name, bytes] of input.carried) files.set(name, bytes);
  files.set(MODEL_FILES.onnxModel, model.model);
  if (model.externalData) files.set(onnxDataPath(model.externalData.location), model.externalData.chunks);
  files.set(MODEL_FILES.report, json(input.report));
  return files;
}

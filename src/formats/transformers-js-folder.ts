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
  generationConfig: Record<string, unknown>;
  /** Tokenizer and other files carried over as they are (tokenizer.json, tokenizer_config.json...). */
  carried: ReadonlyMap<string, Uint8Array>;
  model: BuiltModel;
  /** shrinkray.json: recipe and report. */
  report: Record<string, unknown>;
}

export const FOLDER_PATHS = Object.freeze({
  config: 'config.json',
  generationConfig: 'generation_config.json',
  model: 'onnx/model.onnx',
  report: 'shrinkray.json',
});

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
  files.set(FOLDER_PATHS.config, json(transformersJsConfig(input.configJson, model.externalData !== null)));
  files.set(FOLDER_PATHS.generationConfig, json(input.generationConfig));
  for (const [name, bytes] of input.carried) files.set(name, bytes);
  files.set(FOLDER_PATHS.model, model.model);
  if (model.externalData) files.set(`onnx/${model.externalData.location}`, model.externalData.chunks);
  files.set(FOLDER_PATHS.report, json(input.report));
  return files;
}

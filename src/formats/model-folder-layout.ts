/**
 * The one table of a model folder's file names: the Hugging Face layout we import from and
 * write (config, weights, tokenizer files) and the transformers.js layout of a compressed
 * model (onnx/model.onnx beside them, shrinkray.json with the report). The CLI's folders, the
 * store's manifests and the app's zip export all use these paths ('/'-separated).
 */
export const MODEL_FILES = Object.freeze({
  config: 'config.json',
  weights: 'model.safetensors',
  weightIndex: 'model.safetensors.index.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  generationConfig: 'generation_config.json',
  specialTokensMap: 'special_tokens_map.json',
  chatTemplate: 'chat_template.jinja',
  onnxModel: 'onnx/model.onnx',
  report: 'shrinkray.json',
});

/** The folder path of an external data file that onnx/model.onnx names by `location`. */
export function onnxDataPath(location: string): string {
  return `onnx/${location}`;
}

/**
 * Files a compressed model takes over from its source, as they are, when the source has them:
 * transformers.js (and our runtime) read them beside the graph.
 */
export const CARRIED_FILES: readonly string[] = Object.freeze([
  MODEL_FILES.tokenizer,
  MODEL_FILES.tokenizerConfig,
  MODEL_FILES.generationConfig,
  MODEL_FILES.specialTokensMap,
  MODEL_FILES.chatTemplate,
]);

/**
 * The side files of a Hugging Face folder the app keeps besides its weights (README, onnx/,
 * .bin and the rest are left out): what a download fetches and a local import stores.
 */
export const HF_SIDE_FILES: readonly string[] = Object.freeze([
  MODEL_FILES.config,
  MODEL_FILES.generationConfig,
  MODEL_FILES.tokenizer,
  MODEL_FILES.tokenizerConfig,
  MODEL_FILES.specialTokensMap,
  MODEL_FILES.chatTemplate,
]);

/** A shard named by model.safetensors.index.json: a plain file name beside it (no folder, not hidden) ending in .safetensors. */
export function isShardName(x: unknown): x is string {
  return typeof x === 'string' && x.length <= 255 && /^\w[\w.-]*\.safetensors$/.test(x);
}

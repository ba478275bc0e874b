/**
 * The loopback hub's repos (written by test/hub/hub-fixtures.ts), named here without any Node
 * import so that browser tests can name them too.
 */
export const HUB_REPOS = Object.freeze({
  synthetic: 'test-org/synthetic-4m', // config.json + a 4.5 MB model.safetensors (1 layer)
  synthetic16: 'test-org/synthetic-16m', // config.json + a 16 MB model.safetensors (6 layers; browser resume test)
  sharded: 'test-org/sharded', // two shards + index (vocabulary 512)
  missingShard: 'test-org/missing-shard', // index names two shards, one is absent
  badHeader: 'test-org/bad-header', // model.safetensors whose header is not JSON
  onnxOnly: 'test-org/onnx-only', // config.json + onnx/model.onnx, no safetensors
  stories: 'test-org/stories260K', // the converted fixture model
  storiesJinja: 'test-org/stories260K-jinja', // the same, its chat template in chat_template.jinja only
  unsupportedArch: 'test-org/unsupported-arch', // config.json names GPT2LMHeadModel
  wrongShapes: 'test-org/wrong-shapes', // config.json says 2 layers, the weights hold 1
  gated: 'test-org/gated-stories', // stories260K behind a gate: its files need `Authorization: Bearer ${HUB_GATED_TOKEN}`
});

/** The access token the gated repo takes (test/hub/hub-server.ts reads it from the repo's `.gated` file). */
export const HUB_GATED_TOKEN = 'hf_shrinkrayLoopbackTestToken';

/** Published configs with the network shrunk, bf16 shards and real tokenizers (test/hub/hub-published-fixtures.ts). */
export const PUBLISHED_BF16_REPO = 'test-org/qwen2.5-shape-bf16-sharded';
export const PUBLISHED_GEMMA3_REPO = 'test-org/gemma-3-270m-shape-bf16-sharded';

/** Compressed model folders for share links, as subfolders of one repo (test/hub/share-link-fixtures.ts). */
export const SHARE_LINK_REPO = 'test-org/share-links';
export const SHARE_LINK_FOLDERS = Object.freeze({
  good: 'stories260K-int4-g32', // the CLI's int4-g32 compression of stories260K
  external: 'stories260K-int4-g32-external', // the same with its weights in onnx/model.onnx_data
  noConfig: 'no-config', // the same without config.json
  noGraph: 'no-graph', // the same without onnx/
  unsupported: 'unsupported-arch', // the same with a GPT-2 config.json
  html: 'html-page', // config.json is a web page
});

import { ShrinkrayError } from '../errors.ts';
import type { ByteSource, DisplayName, OpenModelFile } from '../formats/byte-source.ts';
import { readJsonSource } from '../formats/json-file.ts';
import { isShardName, MODEL_FILES } from '../formats/model-folder-layout.ts';
import { printable, quoted } from '../formats/printable.ts';
import { parseHfConfig } from './hf-config.ts';
import type { SafetensorsTensor } from '../formats/safetensors.ts';
import { mergeShards } from '../formats/safetensors-shards.ts';
import type { ModelConfig } from './config.ts';
import { foldGemmaNorms } from './gemma-norms.ts';
import type { ModelIR, StoredDType, TensorHandle } from './ir.ts';
import { splitFusedTensors } from './fused-tensors.ts';
import { modelTensors, parseTensorName } from './tensor-table.ts';

/**
 * A model in Hugging Face layout -> ModelIR, wherever its files live: the Node folder
 * loader (src/node/model-folder.ts) and the browser's model store both open files as
 * ByteSources and hand them here. Tensors stay where they are until read.
 */
export interface HfWeights {
  tensors: Map<string, SafetensorsTensor>;
  /** The weight files read, as their sources name them. */
  files: string[];
  /** Tensor name -> the source of the file that holds it. */
  sourceOf: Map<string, ByteSource>;
  /** What error messages call the weights: the single file, or the index's shards. */
  where: string;
}

const asIs: DisplayName = (path) => path;

/** Opens the weights: model.safetensors, else the shards that model.safetensors.index.json lists. */
export async function openHfWeights(open: OpenModelFile, display: DisplayName = asIs): Promise<HfWeights> {
  const indexSource = await open(MODEL_FILES.weightIndex);
  if (!indexSource) {
    const src = await open(MODEL_FILES.weights);
    if (!src)
      throw new ShrinkrayError('missing_file', `${display(MODEL_FILES.weights)}: the model has neither it nor ${MODEL_FILES.weightIndex}`);
    return { ...(await mergeShards([MODEL_FILES.weights], async () => src)), where: src.name };
  }
  const indexName = display(MODEL_FILES.weightIndex);
  const index = await readJsonSource(indexSource);
  const weightMap = index.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new ShrinkrayError('bad_file', `${indexName}: has no weight_map object`);
  }
  const entries = Object.entries(weightMap as Record<string, unknown>);
  if (entries.length === 0) throw new ShrinkrayError('bad_file', `${indexName}: its weight_map is empty`);
  const shards = [...new Set(entries.map(([, shard]) => shard))];
  for (const shard of shards) {
    if (!isShardName(shard)) {
      throw new ShrinkrayError(
        'bad_file',
        `${indexName}: invalid shard file name ${printable(String(JSON.stringify(shard)), 80)}; expected a plain *.safetensors file name beside it`,
      );
    }
  }
  const merged = await mergeShards(
    shards as string[],
    async (shard) => {
      const src = await open(shard);
      if (!src) throw new ShrinkrayError('missing_file', `${display(shard)}: named in ${MODEL_FILES.weightIndex} but not in the model`);
      return src;
    },
    { name: MODEL_FILES.weightIndex, weightMap: weightMap as Record<string, unknown> },
  );
  return { ...merged, where: `${indexName} shards` };
}

/** Every tensor a config requires, with its shape (from the tensor table): model-level ones first, then layer by layer. */
export function requiredTensors(c: ModelConfig): [string, number[]][] {
  const all = modelTensors(c);
  return [...all.filter((t) => t.layer === null), ...all.filter((t) => t.layer !== null)].map((t) => [t.name, [...t.shape]]);
}

const FLOAT_DTYPES: ReadonlySet<StoredDType> = new Set(['F32', 'F16', 'BF16']);

/**
 * Integer codes where a float weight belongs are a quantizer's output (bitsandbytes' I8 with
 * `.SCB` scales, GPTQ's packed I32): read as values they run a different model without a word.
 */
function integerWeight(weights: HfWeights, name: string, dtype: StoredDType): ShrinkrayError {
  const scales = `${name.replace(/\.weight$/, '')}.SCB`;
  const reader =
    weights.tensors.has(scales) || weights.tensors.has(`${name}.SCB`)
      ? `bitsandbytes int8 codes (scales in ${quoted(scales)}): bitsandbytes int8 checkpoints are not supported`
      : 'integer codes that only the quantizer that wrote them can read';
  return new ShrinkrayError(
    'bad_file',
    `${weights.where}: tensor ${quoted(name)} is stored as ${dtype}, ${reader}; Shrinkray reads float weights (F32, F16, BF16): use the original fp16/bf16 weights`,
  );
}

/**
 * Throws 'bad_file' naming the tensor unless every tensor the config requires is there with
 * its shape, and unless the weights hold no decoder layer beyond the config's layer count
 * (a config that says fewer layers than were trained runs a truncated model without a word).
 * Fused tensors (Phi-3's qkv_proj, gate_up_proj) are first split, in `weights`, into the
 * projections the table names. Returns the other tensors the config does not use (e.g. a tied model's saved lm_head.weight,
 * old checkpoints' rotary_emb.inv_freq), for callers to name.
 */
export function checkTensorsFitConfig(config: ModelConfig, weights: HfWeights, configName: string): string[] {
  splitFusedTensors(config, weights.tensors, weights.sourceOf, weights.where, configName);
  const required = requiredTensors(config);
  const dims = new Map(modelTensors(config).map((t) => [t.name, t.dims.join(', ')]));
  for (const [name, shape] of required) {
    const t = weights.tensors.get(name);
    if (!t)
      throw new ShrinkrayError('bad_file', `${weights.where}: missing tensor '${name}' [${shape.join(', ')}] that ${configName} requires`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      // The config's fields behind each dimension are named: a wrong head_dim shows as q_proj's rows.
      throw new ShrinkrayError(
        'bad_file',
        `${weights.where}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] (${dims.get(name)}) from ${configName}`,
      );
    }
    if (!FLOAT_DTYPES.has(t.dtype)) throw integerWeight(weights, name, t.dtype);
  }
  const known = new Set(required.map(([name]) => name));
  const unused = [...weights.tensors.keys()].filter((name) => !known.has(name));
  // A layer tensor another architecture's row of the table names (q/k/v biases, Qwen3's q_norm/k_norm)
  // would be dropped without a word, leaving another model: the config and the weights disagree.
  for (const name of unused) {
    const { layer, key } = parseTensorName(name, config);
    if (layer !== null && key !== null && layer < config.numLayers) {
      throw new ShrinkrayError(
        'bad_file',
        `${weights.where}: holds '${name}', which ${configName} (architectures ${config.architecture}) has no place for: the config does not describe these weights`,
      );
    }
  }
  let deepest: { layer: number; name: string } | undefined;
  for (const name of unused) {
    const { layer } = parseTensorName(name);
    if (layer !== null && layer >= config.numLayers && (!deepest || layer > deepest.layer)) deepest = { layer, name };
  }
  if (deepest) {
    throw new ShrinkrayError(
      'bad_file',
      `${weights.where}: holds decoder layers up to ${deepest.layer} (${quoted(deepest.name)}) but ${configName} says num_hidden_layers = ${config.numLayers}`,
    );
  }
  return unused;
}

/** Bytes of the weight files (each shard once): the model's size before compression. */
export function weightFileBytes(weights: HfWeights): number {
  return [...new Set(weights.sourceOf.values())].reduce((sum, src) => sum + src.size, 0);
}

/**
 * config.json + weights -> a checked ModelIR; the config is also returned as JSON for
 * carrying over, with the names of the tensors the config does not use.
 */
export async function openHfModel(
  open: OpenModelFile,
  display: DisplayName = asIs,
): Promise<{ ir: ModelIR; configJson: Record<string, unknown>; weights: HfWeights; unusedTensors: string[] }> {
  const configName = display(MODEL_FILES.config);
  const configSource = await open(MODEL_FILES.config);
  if (!configSource) throw new ShrinkrayError('missing_file', `${configName}: the model has no ${MODEL_FILES.config}`);
  const configJson = await readJsonSource(configSource);
  const config = parseHfConfig(configJson, configName);
  const weights = await openHfWeights(open, display);
  const unusedTensors = checkTensorsFitConfig(config, weights, configName);
  // Only what the config uses travels on: the writers and the pipeline never see the rest.
  const unused = new Set(unusedTensors);
  const tensors = new Map<string, TensorHandle>([...weights.tensors].filter(([name]) => !unused.has(name)));
  foldGemmaNorms(config, tensors);
  return { ir: { config, tensors }, configJson, weights, unusedTensors };
}

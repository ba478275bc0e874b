import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShrinkrayError } from '../errors.ts';
import { parseHfConfig, toHfConfig } from '../formats/hf-config.ts';
import { encodeTensorData, readSafetensors, safetensorsHeader, type SafetensorsTensor } from '../formats/safetensors.ts';
import type { ModelConfig } from '../model/config.ts';
import type { HfModelParts } from '../model/import-llama2c.ts';
import { tensorNames, type ModelIR, type TensorHandle } from '../model/ir.ts';
import { fileSource } from './file-source.ts';

/** A model folder in Hugging Face layout, opened: tensors stay on disk until read. */
export interface LoadedModel {
  dir: string;
  ir: ModelIR;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  generationConfig: Record<string, unknown> | null;
}

export const MODEL_FILES = Object.freeze({
  config: 'config.json',
  weights: 'model.safetensors',
  weightIndex: 'model.safetensors.index.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  generationConfig: 'generation_config.json',
});

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
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (e) {
    throw new ShrinkrayError('bad_file', `${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Opens the weights: model.safetensors, else the shards listed in model.safetensors.index.json. */
async function openWeights(dir: string): Promise<{ tensors: Map<string, SafetensorsTensor>; files: string[] }> {
  const indexPath = join(dir, MODEL_FILES.weightIndex);
  const index = await readJson(indexPath, false);
  if (!index) {
    const path = join(dir, MODEL_FILES.weights);
    const st = await readSafetensors(await fileSource(path));
    return { tensors: new Map(st.tensors), files: [path] };
  }
  const weightMap = index.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null) throw new ShrinkrayError('bad_file', `${indexPath}: has no weight_map object`);
  const entries = Object.entries(weightMap as Record<string, unknown>);
  const shards = [...new Set(entries.map(([, shard]) => shard))];
  for (const shard of shards) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
      throw new ShrinkrayError('bad_file', `${indexPath}: invalid shard file name ${JSON.stringify(shard)}`);
    }
  }
  const tensors = new Map<string, SafetensorsTensor>();
  const files: string[] = [];
  for (const shard of shards as string[]) {
    const path = join(dir, shard);
    const st = await readSafetensors(await fileSource(path));
    files.push(path);
    for (const [name, t] of st.tensors) tensors.set(name, t);
    for (const [name, s] of entries) {
      if (s === shard && !st.tensors.has(name)) throw new ShrinkrayError('bad_file', `${path}: lacks tensor '${name}' that ${MODEL_FILES.weightIndex} places there`);
    }
  }
  return { tensors, files };
}

/** Every tensor a config requires, with its shape. */
export function requiredTensors(c: ModelConfig): [string, number[]][] {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const out: [string, number[]][] = [[tensorNames.embedding, [c.vocabSize, c.hiddenSize]], [tensorNames.finalNorm, [c.hiddenSize]]];
  if (!c.tieWordEmbeddings) out.push([tensorNames.classifier, [c.vocabSize, c.hiddenSize]]);
  for (let l = 0; l < c.numLayers; l++) {
    const n = tensorNames.layer(l);
    out.push([n.attnNorm, [c.hiddenSize]], [n.q, [q, c.hiddenSize]], [n.k, [kv, c.hiddenSize]], [n.v, [kv, c.hiddenSize]],
      [n.o, [c.hiddenSize, q]], [n.ffnNorm, [c.hiddenSize]], [n.gate, [c.intermediateSize, c.hiddenSize]],
      [n.up, [c.intermediateSize, c.hiddenSize]], [n.down, [c.hiddenSize, c.intermediateSize]]);
    if (c.attentionBias) out.push([n.qBias, [q]], [n.kBias, [kv]], [n.vBias, [kv]]);
  }
  return out;
}

/** Opens a folder in Hugging Face layout and checks that its weights fit its config. */
export async function loadModelFolder(dir: string): Promise<LoadedModel> {
  const configPath = join(dir, MODEL_FILES.config);
  const config = parseHfConfig(await readJson(configPath, true), configPath);
  const { tensors, files } = await openWeights(dir);
  const where = files.length === 1 ? files[0] : `${join(dir, MODEL_FILES.weightIndex)} shards`;
  for (const [name, shape] of requiredTensors(config)) {
    const t = tensors.get(name);
    if (!t) throw new ShrinkrayError('bad_file', `${where}: missing tensor '${name}' [${shape.join(', ')}] that ${configPath} requires`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ShrinkrayError('bad_file', `${where}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] from ${configPath}`);
    }
  }
  const tokenizerJson = (await readJson(join(dir, MODEL_FILES.tokenizer), true))!;
  const tokenizerConfig = (await readJson(join(dir, MODEL_FILES.tokenizerConfig), false)) ?? {};
  const generationConfig = await readJson(join(dir, MODEL_FILES.generationConfig), false);
  return { dir, ir: { config, tensors }, tokenizerJson, tokenizerConfig, generationConfig };
}

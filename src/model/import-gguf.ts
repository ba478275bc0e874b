import type { ByteSource } from '../formats/byte-source.ts';
import { readGguf, type GgufFile, type GgufTensor } from '../formats/gguf.ts';
import { convertGgufTokenizer } from '../formats/tokenizer-gguf.ts';
import { ShrinkrayError } from '../errors.ts';
import { checkModelConfig, type ConfigFieldNames, type ModelConfig } from './config.ts';
import { permuteRotaryRows, type HfModelParts } from './import-llama2c.ts';
import type { TensorHandle } from './ir.ts';
import { modelTensors, type LayerTensorKey, type ModelTensorKey } from './tensor-table.ts';

/**
 * A GGUF file (general.architecture 'llama': Llama 1/2, TinyLlama, Mistral-as-llama) into
 * Hugging Face form: config from the llama.* keys, lazy tensors dequantized one at a time,
 * the tokenizer from tokenizer.ggml.*. llama.cpp's converter stores q/k rows for interleaved
 * RoPE (pairs 2i, 2i+1: llama2.c's convention, llama.cpp's ROPE_TYPE_NORM), so they are
 * reordered for Hugging Face's rotate-half exactly as the llama2.c import does.
 */
export const GGUF_ARCHITECTURES = Object.freeze(['llama']);

const K = (key: string) => `llama.${key}`;
const GGUF_FIELDS: ConfigFieldNames = Object.freeze({
  hiddenSize: K('embedding_length'),
  intermediateSize: K('feed_forward_length'),
  numLayers: K('block_count'),
  numHeads: K('attention.head_count'),
  numKvHeads: K('attention.head_count_kv'),
  headDim: K('attention.key_length'),
  vocabSize: 'token_embd.weight rows',
  maxPositionEmbeddings: K('context_length'),
  rmsNormEps: K('attention.layer_norm_rms_epsilon'),
  ropeTheta: K('rope.freq_base'),
  bosTokenId: 'tokenizer.ggml.bos_token_id',
  eosTokenId: 'tokenizer.ggml.eos_token_id',
});

/** GGUF tensor names by tensor-table key ('{i}' is the layer); Partial, so a new row of the table fails with its name, not silently. */
const GGUF_NAMES: Partial<Record<LayerTensorKey | ModelTensorKey, string>> & Record<'embedding' | 'classifier', string> = {
  embedding: 'token_embd.weight',
  finalNorm: 'output_norm.weight',
  classifier: 'output.weight',
  attnNorm: 'blk.{i}.attn_norm.weight',
  q: 'blk.{i}.attn_q.weight',
  k: 'blk.{i}.attn_k.weight',
  v: 'blk.{i}.attn_v.weight',
  qBias: 'blk.{i}.attn_q.bias',
  kBias: 'blk.{i}.attn_k.bias',
  vBias: 'blk.{i}.attn_v.bias',
  o: 'blk.{i}.attn_output.weight',
  ffnNorm: 'blk.{i}.ffn_norm.weight',
  gate: 'blk.{i}.ffn_gate.weight',
  up: 'blk.{i}.ffn_up.weight',
  down: 'blk.{i}.ffn_down.weight',
};

const END_KEYS = ['tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id'];

/** llama.cpp stores eps and the RoPE base as float32: the shortest decimal that is the same float32 (1e-5, not 9.99999974737875e-6). */
function shortestFloat32(v: number): number {
  for (let digits = 1; digits < 17; digits++) {
    const r = Number(v.toPrecision(digits));
    if (Math.fround(r) === Math.fround(v)) return r;
  }
  return v;
}

function readConfig(file: GgufFile): ModelConfig {
  const meta = file.metadata;
  const missing = (key: string) => new ShrinkrayError('bad_config', `${file.name}: the required metadata key '${key}' is missing`);
  const num = (key: string, fallback?: number): number => {
    const v = meta[key];
    if (v === undefined) {
      if (fallback === undefined) throw missing(key);
      return fallback;
    }
    if (typeof v !== 'number' && typeof v !== 'bigint') {
      throw new ShrinkrayError('bad_config', `${file.name}: metadata key '${key}' must be a number, got ${JSON.stringify(v)}`);
    }
    return Number(v);
  };
  const hidden = num(K('embedding_length'));
  const heads = num(K('attention.head_count'));
  const headDim = num(K('attention.key_length'), heads > 0 ? hidden / heads : 0);
  if (num(K('attention.value_length'), headDim) !== headDim) {
    throw new ShrinkrayError(
      'bad_config',
      `${file.name}: '${K('attention.value_length')}' differs from '${K('attention.key_length')}' (${headDim})`,
    );
  }
  if (num(K('rope.dimension_count'), headDim) !== headDim) {
    throw new ShrinkrayError(
      'bad_config',
      `${file.name}: '${K('rope.dimension_count')}' is ${num(K('rope.dimension_count'))}, not the head size ${headDim}: partial rotary embeddings are not supported`,
    );
  }
  const scaling = meta[K('rope.scaling.type')];
  if (scaling !== undefined && scaling !== 'none') {
    throw new ShrinkrayError(
      'bad_config',
      `${file.name}: '${K('rope.scaling.type')}' is ${JSON.stringify(scaling)}; RoPE scaling from GGUF is not supported`,
    );
  }
  if (file.tensors.has('rope_freqs.weight')) {
    throw new ShrinkrayError('bad_config', `${file.name}: tensor 'rope_freqs.weight' (Llama 3 RoPE scaling) is not supported from GGUF`);
  }
  const embedding = file.tensors.get(GGUF_NAMES.embedding);
  if (!embedding) throw new ShrinkrayError('bad_file', `${file.name}: the required tensor '${GGUF_NAMES.embedding}' is missing`);
  const vocabSize = embedding.shape[0]!;
  const declared = meta[K('vocab_size')];
  if (declared !== undefined && Number(declared) !== vocabSize) {
    throw new ShrinkrayError(
      'bad_config',
      `${file.name}: '${K('vocab_size')}' is ${String(declared)} but token_embd.weight has ${vocabSize} rows`,
    );
  }
  return checkModelConfig(
    {
      architecture: 'LlamaForCausalLM',
      family: 'llama',
      hiddenSize: hidden,
      intermediateSize: num(K('feed_forward_length')),
      numLayers: num(K('block_count')),
      numHeads: heads,
      numKvHeads: num(K('attention.head_count_kv'), heads),
      headDim,
      vocabSize,
      maxPositionEmbeddings: num(K('context_length')),
      rmsNormEps: shortestFloat32(num(K('attention.layer_norm_rms_epsilon'))),
      ropeTheta: shortestFloat32(num(K('rope.freq_base'), 10000)), // llama.cpp's default for llama
      tieWordEmbeddings: !file.tensors.has(GGUF_NAMES.classifier), // llama.cpp then classifies with token_embd
      attentionBias: false,
      bosTokenId: num('tokenizer.ggml.bos_token_id', 1),
      // Instruct models end turns with eot (<|eot_id|>) or eom as well as eos: generation stops at each.
      eosTokenId: [
        ...new Set([num('tokenizer.ggml.eos_token_id', 2), ...END_KEYS.filter((k) => meta[k] !== undefined).map((k) => num(k))]),
      ],
    },
    file.name,
    GGUF_FIELDS,
  );
}

function handle(name: string, t: GgufTensor, read: () => Promise<Float32Array>): TensorHandle {
  return { name, dtype: 'F32', shape: t.shape, byteLength: 4 * t.shape.reduce((a, b) => a * b, 1), read };
}

/** Reads a GGUF file's header (lazily: no tensor data) into Hugging Face form; each tensor is read and dequantized on read(). */
export async function importGguf(src: ByteSource): Promise<HfModelParts> {
  const file = await readGguf(src);
  const arch = file.metadata['general.architecture'];
  if (arch === undefined)
    throw new ShrinkrayError('bad_config', `${file.name}: the required metadata key 'general.architecture' is missing`);
  if (typeof arch !== 'string' || !GGUF_ARCHITECTURES.includes(arch)) {
    throw new ShrinkrayError(
      'unsupported_architecture',
      `${file.name}: general.architecture is ${JSON.stringify(arch)}; Shrinkray imports GGUF files of these architectures: ${GGUF_ARCHITECTURES.join(', ')}`,
    );
  }
  const config = readConfig(file);
  const tensors = new Map<string, TensorHandle>();
  const used = new Set<string>();
  for (const entry of modelTensors(config)) {
    const template = GGUF_NAMES[entry.key];
    if (template === undefined)
      throw new ShrinkrayError('bad_file', `${file.name}: tensor '${entry.name}' has no GGUF counterpart Shrinkray knows`);
    const ggufName = template.replace('{i}', String(entry.layer));
    const t = file.tensors.get(ggufName);
    if (!t) throw new ShrinkrayError('bad_file', `${file.name}: the required tensor '${ggufName}' is missing`);
    if (t.shape.length !== entry.shape.length || t.shape.some((d, i) => d !== entry.shape[i])) {
      throw new ShrinkrayError(
        'bad_file',
        `${file.name}: tensor '${ggufName}' has shape [${t.shape.join(', ')}] but the metadata implies [${entry.shape.join(', ')}]`,
      );
    }
    used.add(ggufName);
    const heads = entry.key === 'q' ? config.numHeads : entry.key === 'k' ? config.numKvHeads : 0;
    const read = heads > 0 ? async () => permuteRotaryRows(await t.read(), heads, config.headDim, config.hiddenSize) : () => t.read();
    tensors.set(entry.name, handle(entry.name, t, read));
  }
  const unused = [...file.tensors.keys()].filter((n) => !used.has(n));
  if (unused.length > 0) {
    throw new ShrinkrayError(
      'bad_file',
      `${file.name}: tensor '${unused[0]}'${unused.length > 1 ? ` (and ${unused.length - 1} more)` : ''} is not part of a llama model as Shrinkray imports it`,
    );
  }
  const { tokenizerJson, tokenizerConfig } = convertGgufTokenizer(file.metadata, file.name, config.vocabSize, config.maxPositionEmbeddings);
  return {
    ir: { config, tensors },
    tokenizerJson,
    tokenizerConfig,
    generationConfig: {
      bos_token_id: config.bosTokenId,
      eos_token_id: config.eosTokenId.length === 1 ? config.eosTokenId[0] : config.eosTokenId,
      max_length: config.maxPositionEmbeddings,
    },
  };
}

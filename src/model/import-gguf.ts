import type { ByteSource } from '../formats/byte-source.ts';
import { readGguf, type GgufFile, type GgufTensor } from '../formats/gguf.ts';
import { convertGgufTokenizer } from '../formats/tokenizer-gguf.ts';
import { ShrinkrayError } from '../errors.ts';
import { GGUF_ARCHITECTURE_TABLE, GGUF_ARCHITECTURES, GGUF_TENSOR_NAMES, type GgufArchitecture } from './gguf-architectures.ts';
import { gemma3EndTokenIds, gemma3FieldsFromGguf } from './gguf-gemma3.ts';
import { llama3ScalingFromRopeFreqs, ROPE_FREQS_TENSOR } from './gguf-rope-freqs.ts';
import { checkModelConfig, type ConfigFieldNames, type ModelConfig } from './config.ts';
import { permuteRotaryRows, type HfModelParts } from './import-llama2c.ts';
import type { TensorHandle } from './ir.ts';
import { modelTensors } from './tensor-table.ts';

/**
 * A GGUF file of a family gguf-architectures.ts lists (llama, qwen2, qwen3, gemma3) into Hugging Face
 * form: config from the `<arch>.*` keys, lazy tensors dequantized one at a time, the tokenizer
 * from tokenizer.ggml.*. Llama's q/k rows come back from llama.cpp's interleaved-RoPE order to
 * rotate-half exactly as the llama2.c import does; a Llama 3.x rope_freqs.weight becomes the
 * rope_scaling it was written from (gguf-rope-freqs.ts).
 */
export { GGUF_ARCHITECTURES };

const fieldNames = (K: (key: string) => string): ConfigFieldNames =>
  Object.freeze({
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

const END_KEYS = ['tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id'];

/** llama.cpp stores eps and the RoPE base as float32: the shortest decimal that is the same float32 (1e-5, not 9.99999974737875e-6). */
function shortestFloat32(v: number): number {
  for (let digits = 1; digits < 17; digits++) {
    const r = Number(v.toPrecision(digits));
    if (Math.fround(r) === Math.fround(v)) return r;
  }
  return v;
}

function metadataNumber(file: GgufFile): (key: string, fallback?: number) => number {
  return (key, fallback) => {
    const v = file.metadata[key];
    if (v === undefined) {
      if (fallback === undefined) throw new ShrinkrayError('bad_config', `${file.name}: the required metadata key '${key}' is missing`);
      return fallback;
    }
    if (typeof v !== 'number' && typeof v !== 'bigint') {
      throw new ShrinkrayError('bad_config', `${file.name}: metadata key '${key}' must be a number, got ${JSON.stringify(v)}`);
    }
    return Number(v);
  };
}

/** Llama 3.x's rope_freqs.weight as rope_scaling; a family whose files never carry it is refused with the unused tensors. */
async function ropeScalingOf(file: GgufFile, arch: GgufArchitecture, ropeTheta: number, headDim: number) {
  const t = file.tensors.get(ROPE_FREQS_TENSOR);
  if (!t || !arch.ropeFreqs) return undefined;
  if (t.shape.length !== 1)
    throw new ShrinkrayError(
      'bad_file',
      `${file.name}: tensor '${ROPE_FREQS_TENSOR}' has shape [${t.shape.join(', ')}], expected [${headDim / 2}]`,
    );
  return llama3ScalingFromRopeFreqs(await t.read(), ropeTheta, headDim, file.name);
}

async function readConfig(file: GgufFile, archName: string, arch: GgufArchitecture): Promise<ModelConfig> {
  const meta = file.metadata;
  const K = (key: string) => `${archName}.${key}`;
  const num = metadataNumber(file);
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
  const gemma = arch.family === 'gemma3_text';
  const scaling = meta[K('rope.scaling.type')];
  if (!gemma && scaling !== undefined && scaling !== 'none') {
    throw new ShrinkrayError(
      'bad_config',
      `${file.name}: '${K('rope.scaling.type')}' is ${JSON.stringify(scaling)}; RoPE scaling from GGUF keys is not supported (Llama 3's rope_freqs.weight is)`,
    );
  }
  const embedding = file.tensors.get(GGUF_TENSOR_NAMES.embedding);
  if (!embedding) throw new ShrinkrayError('bad_file', `${file.name}: the required tensor '${GGUF_TENSOR_NAMES.embedding}' is missing`);
  const vocabSize = embedding.shape[0]!;
  const declared = meta[K('vocab_size')];
  if (declared !== undefined && Number(declared) !== vocabSize) {
    throw new ShrinkrayError(
      'bad_config',
      `${file.name}: '${K('vocab_size')}' is ${String(declared)} but token_embd.weight has ${vocabSize} rows`,
    );
  }
  const ropeTheta = shortestFloat32(num(K('rope.freq_base'), 10000)); // llama.cpp's default when the key is absent
  // rope_freqs is read only against a head size that can be right; checkModelConfig names one that cannot.
  const fields = fieldNames(K);
  const ropeScaling =
    Number.isSafeInteger(headDim) && headDim > 0 && headDim % 2 === 0 ? await ropeScalingOf(file, arch, ropeTheta, headDim) : undefined;
  const maxPositionEmbeddings = num(K('context_length'));
  const numLayers = num(K('block_count'));
  const gemmaFields = gemma
    ? gemma3FieldsFromGguf(file, K, num, { hiddenSize: hidden, numHeads: heads, headDim, numLayers, maxPositionEmbeddings })
    : undefined;
  return checkModelConfig(
    {
      architecture: arch.architecture,
      family: arch.family,
      hiddenSize: hidden,
      intermediateSize: num(K('feed_forward_length')),
      numLayers,
      numHeads: heads,
      numKvHeads: num(K('attention.head_count_kv'), heads),
      headDim,
      vocabSize,
      maxPositionEmbeddings,
      rmsNormEps: shortestFloat32(num(K('attention.layer_norm_rms_epsilon'))),
      ropeTheta,
      ...(ropeScaling && { ropeScaling }),
      tieWordEmbeddings: !file.tensors.has(GGUF_TENSOR_NAMES.classifier), // llama.cpp then classifies with token_embd
      attentionBias: arch.attentionBias,
      ...(arch.qkNorm && { qkNorm: true }),
      ...(gemmaFields && { ...gemmaFields, ropeLocalTheta: shortestFloat32(gemmaFields.ropeLocalTheta!) }),
      bosTokenId: num('tokenizer.ggml.bos_token_id', 1),
      // Instruct models end turns with eot (<|eot_id|>) or eom as well as eos: generation stops at each.
      eosTokenId: [
        ...new Set([
          num('tokenizer.ggml.eos_token_id', 2),
          ...END_KEYS.filter((k) => meta[k] !== undefined).map((k) => num(k)),
          ...(gemma ? gemma3EndTokenIds(meta['tokenizer.ggml.tokens']) : []),
        ]),
      ],
    },
    file.name,
    fields,
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
  const known = typeof arch === 'string' && Object.hasOwn(GGUF_ARCHITECTURE_TABLE, arch) ? GGUF_ARCHITECTURE_TABLE[arch] : undefined;
  if (typeof arch !== 'string' || !known) {
    throw new ShrinkrayError(
      'unsupported_architecture',
      `${file.name}: general.architecture is ${JSON.stringify(arch)}; Shrinkray imports GGUF files of these architectures: ${GGUF_ARCHITECTURES.join(', ')}`,
    );
  }
  const config = await readConfig(file, arch, known);
  const tensors = new Map<string, TensorHandle>();
  const used = new Set<string>(known.ropeFreqs && file.tensors.has(ROPE_FREQS_TENSOR) ? [ROPE_FREQS_TENSOR] : []);
  for (const entry of modelTensors(config)) {
    const template = GGUF_TENSOR_NAMES[entry.key];
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
    const heads = !known.interleavedQk ? 0 : entry.key === 'q' ? config.numHeads : entry.key === 'k' ? config.numKvHeads : 0;
    const read = heads > 0 ? async () => permuteRotaryRows(await t.read(), heads, config.headDim, config.hiddenSize) : () => t.read();
    tensors.set(entry.name, handle(entry.name, t, read));
  }
  const unused = [...file.tensors.keys()].filter((n) => !used.has(n));
  if (unused.length > 0) {
    throw new ShrinkrayError(
      'bad_file',
      `${file.name}: tensor '${unused[0]}'${unused.length > 1 ? ` (and ${unused.length - 1} more)` : ''} is not part of a ${arch} model as Shrinkray imports it`,
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

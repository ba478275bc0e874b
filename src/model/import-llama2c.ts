import type { ByteSource } from '../formats/byte-source.ts';
import { readLlama2cCheckpoint, readLlama2cTokenizer, type Llama2cArray, type Llama2cArrayName } from '../formats/llama2c.ts';
import { convertLlama2cTokenizer } from '../formats/tokenizer-llama2c.ts';
import { checkModelConfig, type ConfigFieldNames } from './config.ts';

/** The llama2.c header's names for the fields checkModelConfig checks (head size is dim / n_heads). */
const LLAMA2C_FIELDS: ConfigFieldNames = Object.freeze({
  hiddenSize: 'dim',
  intermediateSize: 'hidden_dim',
  numLayers: 'n_layers',
  numHeads: 'n_heads',
  numKvHeads: 'n_kv_heads',
  headDim: 'dim / n_heads',
  vocabSize: 'vocab_size',
  maxPositionEmbeddings: 'seq_len',
  rmsNormEps: 'rms_norm_eps (1e-5 in run.c)',
  ropeTheta: 'rope_theta (10000 in run.c)',
  bosTokenId: 'BOS (1 in run.c)',
  eosTokenId: 'EOS (2 in run.c)',
});
import type { ModelIR, TensorHandle } from './ir.ts';
import { tensorNames } from './tensor-table.ts';

/**
 * Everything a folder in Hugging Face layout holds, before it is written anywhere:
 * config and lazy tensors (the IR), tokenizer files and the generation config.
 */
export interface HfModelParts {
  ir: ModelIR;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  generationConfig: Record<string, unknown> | null;
}

/**
 * llama2.c rotates interleaved pairs (2i, 2i+1) of each head; Hugging Face Llama rotates
 * halves (i, i + headDim/2). Reordering the rows of wq and wk per head, as transformers'
 * convert_llama_weights_to_hf.py does, makes the two conventions compute the same scores:
 * new row h*hd + j*hd/2 + i comes from old row h*hd + 2i + j.
 * `w` is [heads*headDim, cols]; returns a new array of the same shape.
 */
export function permuteRotaryRows(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const from = (h * headDim + 2 * i + j) * cols;
        const to = (h * headDim + j * half + i) * cols;
        out.set(w.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

function handle(name: string, shape: number[], read: () => Promise<Float32Array>): TensorHandle {
  return { name, dtype: 'F32', shape: Object.freeze(shape), byteLength: 4 * shape.reduce((a, b) => a * b, 1), read };
}

/** Reads a llama2.c checkpoint (lazily) and its tokenizer into Hugging Face form. */
export async function importLlama2c(checkpoint: ByteSource, tokenizer: { bytes: Uint8Array; name: string }): Promise<HfModelParts> {
  const { header: h, arrays } = await readLlama2cCheckpoint(checkpoint);
  const headDim = h.dim / h.nHeads;
  const config = checkModelConfig(
    {
      architecture: 'LlamaForCausalLM',
      family: 'llama',
      hiddenSize: h.dim,
      intermediateSize: h.hiddenDim,
      numLayers: h.nLayers,
      numHeads: h.nHeads,
      numKvHeads: h.nKvHeads,
      headDim,
      vocabSize: h.vocabSize,
      maxPositionEmbeddings: h.seqLen,
      rmsNormEps: 1e-5, // run.c hard-codes 1e-5
      ropeTheta: 10000, // run.c hard-codes 10000 (it ignores the stored freq_cis tables)
      tieWordEmbeddings: h.sharedClassifier,
      attentionBias: false,
      bosTokenId: 1,
      eosTokenId: [2],
    },
    checkpoint.name,
    LLAMA2C_FIELDS,
  );
  const array = (name: Llama2cArrayName): Llama2cArray => arrays.get(name)!;
  const whole = (name: string, from: Llama2cArrayName) => handle(name, [...array(from).shape], () => array(from).read());
  const layerSlice = (name: string, from: Llama2cArrayName, layer: number) =>
    handle(name, array(from).shape.slice(1), () => array(from).readSlice(layer));
  const rotarySlice = (name: string, from: 'wq' | 'wk', layer: number, heads: number) =>
    handle(name, array(from).shape.slice(1), async () => permuteRotaryRows(await array(from).readSlice(layer), heads, headDim, h.dim));

  const tensors = new Map<string, TensorHandle>();
  const add = (t: TensorHandle) => tensors.set(t.name, t);
  add(whole(tensorNames.embedding, 'token_embedding'));
  for (let l = 0; l < h.nLayers; l++) {
    const n = tensorNames.layer(l);
    add(layerSlice(n.attnNorm, 'rms_att', l));
    add(rotarySlice(n.q, 'wq', l, h.nHeads));
    add(rotarySlice(n.k, 'wk', l, h.nKvHeads));
    add(layerSlice(n.v, 'wv', l));
    add(layerSlice(n.o, 'wo', l));
    add(layerSlice(n.ffnNorm, 'rms_ffn', l));
    add(layerSlice(n.gate, 'w1', l));
    add(layerSlice(n.down, 'w2', l));
    add(layerSlice(n.up, 'w3', l));
  }
  add(whole(tensorNames.finalNorm, 'rms_final'));
  if (!h.sharedClassifier) add(whole(tensorNames.classifier, 'wcls'));

  const tok = readLlama2cTokenizer(tokenizer.bytes, tokenizer.name, h.vocabSize);
  const { tokenizerJson, tokenizerConfig } = convertLlama2cTokenizer(tok, tokenizer.name, h.seqLen);
  return {
    ir: { config, tensors },
    tokenizerJson,
    tokenizerConfig,
    generationConfig: { bos_token_id: 1, eos_token_id: 2, max_length: h.seqLen },
  };
}

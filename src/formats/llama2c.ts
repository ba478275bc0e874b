import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from './byte-source.ts';

/**
 * llama2.c's legacy checkpoint (run.c, `read_checkpoint`) and tokenizer (`build_tokenizer`).
 * Checkpoint: 7 little-endian int32 header values, then fp32 arrays in a fixed order.
 */
export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number; // always positive here; the sign in the file becomes sharedClassifier
  seqLen: number;
  sharedClassifier: boolean; // the file's vocab_size was positive: wcls is token_embedding
}

export type Llama2cArrayName =
  | 'token_embedding'
  | 'rms_att'
  | 'wq'
  | 'wk'
  | 'wv'
  | 'wo'
  | 'rms_ffn'
  | 'w1'
  | 'w2'
  | 'w3'
  | 'rms_final'
  | 'freq_cis_real'
  | 'freq_cis_imag'
  | 'wcls';

/** One fp32 array of the checkpoint, read lazily. Stacked per-layer arrays have shape [L, ...]. */
export interface Llama2cArray {
  readonly name: Llama2cArrayName;
  readonly shape: readonly number[];
  readonly fileOffset: number;
  read(): Promise<Float32Array>;
  /** The `index`-th slice along the first axis (one layer of a stacked array). */
  readSlice(index: number): Promise<Float32Array>;
}

export interface Llama2cCheckpoint {
  readonly header: Llama2cHeader;
  readonly arrays: ReadonlyMap<Llama2cArrayName, Llama2cArray>;
}

const HEADER_BYTES = 7 * 4;
const MAX_DIM = 1 << 20; // far above any real model; keeps products far from 2^53

function bad(name: string, problem: string): ShrinkrayError {
  return new ShrinkrayError('bad_file', `${name}: not a valid llama2.c checkpoint: ${problem}`);
}

/** The arrays in file order with their shapes, derived from the header alone. */
export function llama2cLayout(h: Llama2cHeader): [Llama2cArrayName, number[]][] {
  const headSize = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * headSize;
  const L = h.nLayers;
  const layout: [Llama2cArrayName, number[]][] = [
    ['token_embedding', [h.vocabSize, h.dim]],
    ['rms_att', [L, h.dim]],
    ['wq', [L, h.dim, h.dim]], // [L, out = heads*headSize, in = dim]
    ['wk', [L, kvDim, h.dim]],
    ['wv', [L, kvDim, h.dim]],
    ['wo', [L, h.dim, h.dim]],
    ['rms_ffn', [L, h.dim]],
    ['w1', [L, h.hiddenDim, h.dim]],
    ['w2', [L, h.dim, h.hiddenDim]],
    ['w3', [L, h.hiddenDim, h.dim]],
    ['rms_final', [h.dim]],
    ['freq_cis_real', [h.seqLen, headSize / 2]],
    ['freq_cis_imag', [h.seqLen, headSize / 2]],
  ];
  if (!h.sharedClassifier) layout.push(['wcls', [h.vocabSize, h.dim]]);
  return layout;
}

function parseHeader(bytes: Uint8Array, name: string): Llama2cHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = Array.from({ length: 7 }, (_, i) => v.getInt32(4 * i, true));
  if (v.getUint32(0, true) === 0x616b3432) {
    throw bad(name, "it starts with the magic 'ak42' of llama2.c's versioned export; only the legacy (version 0) format is supported");
  }
  const fields = {
    dim,
    hidden_dim: hiddenDim,
    n_layers: nLayers,
    n_heads: nHeads,
    n_kv_heads: nKvHeads,
    vocab_size: Math.abs(rawVocab!),
    seq_len: seqLen,
  };
  for (const [field, value] of Object.entries(fields)) {
    if (!(value! > 0 && value! <= MAX_DIM)) throw bad(name, `header field ${field} = ${value} is out of range (1..${MAX_DIM})`);
  }
  const h: Llama2cHeader = {
    dim: dim!,
    hiddenDim: hiddenDim!,
    nLayers: nLayers!,
    nHeads: nHeads!,
    nKvHeads: nKvHeads!,
    vocabSize: Math.abs(rawVocab!),
    seqLen: seqLen!,
    sharedClassifier: rawVocab! > 0,
  };
  if (h.dim % h.nHeads !== 0) throw bad(name, `dim ${h.dim} is not a multiple of n_heads ${h.nHeads}`);
  if ((h.dim / h.nHeads) % 2 !== 0) throw bad(name, `head size ${h.dim / h.nHeads} is odd; RoPE needs pairs`);
  if (h.nKvHeads > h.nHeads || h.nHeads % h.nKvHeads !== 0)
    throw bad(name, `n_heads ${h.nHeads} is not a multiple of n_kv_heads ${h.nKvHeads}`);
  if (h.nLayers > 4096) throw bad(name, `n_layers ${h.nLayers} is out of range`);
  return h;
}

/**
 * Reads the header, checks that the file has exactly the size the header implies, and
 * returns lazy handles to every array. Nothing big is read or allocated here.
 */
export async function readLlama2cCheckpoint(src: ByteSource): Promise<Llama2cCheckpoint> {
  if (src.size < HEADER_BYTES) throw bad(src.name, `the file has ${src.size} bytes, fewer than the ${HEADER_BYTES}-byte header`);
  const header = parseHeader(await src.read(0, HEADER_BYTES), src.name);
  const layout = llama2cLayout(header);
  const floats = layout.reduce((sum, [, shape]) => sum + shape.reduce((a, b) => a * b, 1), 0);
  const expected = HEADER_BYTES + 4 * floats;
  if (src.size !== expected) {
    const h = header;
    throw bad(
      src.name,
      `${src.size < expected ? 'truncated' : 'too long'}: the header (dim ${h.dim}, hidden ${h.hiddenDim}, ` +
        `layers ${h.nLayers}, heads ${h.nHeads}, kv heads ${h.nKvHeads}, vocab ${h.sharedClassifier ? '' : '-'}${h.vocabSize}, ` +
        `seq_len ${h.seqLen}) implies ${expected} bytes, but the file has ${src.size}`,
    );
  }
  const arrays = new Map<Llama2cArrayName, Llama2cArray>();
  let offset = HEADER_BYTES;
  for (const [name, shape] of layout) {
    arrays.set(name, makeArray(src, name, shape, offset));
    offset += 4 * shape.reduce((a, b) => a * b, 1);
  }
  return { header, arrays };
}

function makeArray(src: ByteSource, name: Llama2cArrayName, shape: number[], fileOffset: number): Llama2cArray {
  const total = shape.reduce((a, b) => a * b, 1);
  const slice = total / shape[0]!;
  const readFloats = async (offset: number, count: number) => {
    const bytes = await src.read(offset, 4 * count);
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes); // little-endian, as every platform we run on
    return out;
  };
  return {
    name,
    shape: Object.freeze(shape),
    fileOffset,
    read: () => readFloats(fileOffset, total),
    readSlice(index) {
      if (!Number.isInteger(index) || index < 0 || index >= shape[0]!) {
        throw new ShrinkrayError('bad_argument', `${src.name}: ${name} has ${shape[0]} slices, asked for ${index}`);
      }
      return readFloats(fileOffset + 4 * slice * index, slice);
    },
  };
}

/** llama2.c's tokenizer file: int32 max_token_length, then per token f32 score, i32 len, bytes. */
export interface Llama2cTokenizer {
  maxTokenLength: number;
  pieces: string[]; // UTF-8 decoded; byte tokens read '<0x0A>' etc.
  scores: Float32Array;
}

export function readLlama2cTokenizer(bytes: Uint8Array, name: string, vocabSize?: number): Llama2cTokenizer {
  const badTok = (problem: string) => new ShrinkrayError('bad_file', `${name}: not a valid llama2.c tokenizer: ${problem}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) throw badTok(`the file has ${bytes.byteLength} bytes`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0 || maxTokenLength > 1024) throw badTok(`max_token_length ${maxTokenLength} is out of range (1..1024)`);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const pieces: string[] = [];
  const scores: number[] = [];
  let at = 4;
  while (at < bytes.byteLength && (vocabSize === undefined || pieces.length < vocabSize)) {
    if (at + 8 > bytes.byteLength) throw badTok(`truncated in the entry of token ${pieces.length} (at byte ${at} of ${bytes.byteLength})`);
    const score = view.getFloat32(at, true);
    const len = view.getInt32(at + 4, true);
    at += 8;
    if (len < 0 || len > maxTokenLength || at + len > bytes.byteLength) {
      throw badTok(`token ${pieces.length} has length ${len} (max_token_length ${maxTokenLength}, ${bytes.byteLength - at} bytes left)`);
    }
    try {
      pieces.push(decoder.decode(bytes.subarray(at, at + len)));
    } catch {
      throw badTok(`token ${pieces.length} is not valid UTF-8`);
    }
    scores.push(score);
    at += len;
  }
  if (vocabSize !== undefined && pieces.length !== vocabSize) {
    throw badTok(`it holds ${pieces.length} tokens but the checkpoint's vocabulary has ${vocabSize}`);
  }
  if (at !== bytes.byteLength) throw badTok(`${bytes.byteLength - at} unexpected bytes after token ${pieces.length - 1}`);
  return { maxTokenLength, pieces, scores: Float32Array.from(scores) };
}

import type { MetadataValue } from '@huggingface/gguf';
import { ShrinkrayError } from '../errors.ts';
import { convertGgufBpeTokenizer, type ConvertedBpeTokenizer } from './tokenizer-gguf-bpe.ts';
import { convertGgufSpmTokenizer } from './tokenizer-gguf-spm.ts';
import { convertLlama2cTokenizer, type ConvertedTokenizer } from './tokenizer-llama2c.ts';

/**
 * A GGUF file's tokenizer.ggml.* keys converted to tokenizer.json + tokenizer_config.json.
 * `llama` vocabularies (SentencePiece BPE with byte fallback: Llama 2, TinyLlama, Mistral v0.1)
 * encode exactly as llama2.c's tok512.bin does: unk/bos/eos at 0/1/2, the 256 byte tokens
 * <0x00>..<0xFF> at 3..258, merges ranked by the merged piece's score. They go through the
 * llama2.c converter (src/formats/tokenizer-llama2c.ts) unchanged. GGUF's pieces already spell
 * spaces as '▁', which that converter keeps. A `llama` vocabulary without the dummy prefix
 * (add_space_prefix false: Gemma's, specials anywhere) goes to src/formats/tokenizer-gguf-spm.ts,
 * `gpt2` vocabularies (byte-level BPE) to src/formats/tokenizer-gguf-bpe.ts.
 */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;
const SPECIAL_LAYOUT = [
  ['tokenizer.ggml.unknown_token_id', 0, '<unk>'],
  ['tokenizer.ggml.bos_token_id', 1, '<s>'],
  ['tokenizer.ggml.eos_token_id', 2, '</s>'],
] as const;

const stringList = (v: unknown): string[] | null => (Array.isArray(v) && v.every((t) => typeof t === 'string') ? (v as string[]) : null);
const numberList = (v: unknown): number[] | null => (Array.isArray(v) && v.every((t) => typeof t === 'number') ? (v as number[]) : null);

export function convertGgufTokenizer(
  meta: Readonly<Record<string, MetadataValue>>,
  name: string,
  vocabSize: number,
  modelMaxLength: number,
): ConvertedTokenizer | ConvertedBpeTokenizer {
  const bad = (key: string, problem: string) => new ShrinkrayError('bad_file', `${name}: metadata key '${key}' ${problem}`);
  const model = meta['tokenizer.ggml.model'];
  if (model === undefined) throw bad('tokenizer.ggml.model', 'is missing: the file carries no tokenizer');
  const tokens = stringList(meta['tokenizer.ggml.tokens']);
  if (!tokens) throw bad('tokenizer.ggml.tokens', 'is missing or not a list of strings');
  if (tokens.length !== vocabSize) {
    throw bad('tokenizer.ggml.tokens', `holds ${tokens.length} tokens but token_embd.weight has ${vocabSize} rows`);
  }
  if (model === 'gpt2') return convertGgufBpeTokenizer(meta, name, tokens, modelMaxLength);
  if (model !== 'llama') {
    throw bad(
      'tokenizer.ggml.model',
      `is ${JSON.stringify(model)}; Shrinkray converts 'llama' (SentencePiece) and 'gpt2' (byte-level BPE) vocabularies from GGUF`,
    );
  }
  const scores = numberList(meta['tokenizer.ggml.scores']);
  if (!scores || scores.length !== tokens.length) {
    throw bad('tokenizer.ggml.scores', `must be ${tokens.length} numbers, one per token (a 'llama' vocabulary ranks merges by them)`);
  }
  if (meta['tokenizer.ggml.add_space_prefix'] === false) return convertGgufSpmTokenizer(meta, name, tokens, scores, modelMaxLength);
  for (const [key, id, piece] of SPECIAL_LAYOUT) {
    const v = meta[key];
    if (v !== undefined && Number(v) !== id)
      throw bad(key, `is ${String(v)}; Shrinkray's SentencePiece conversion needs ${piece} at id ${id}`);
    if (tokens[id] !== piece) throw bad('tokenizer.ggml.tokens', `has ${JSON.stringify(tokens[id])} at id ${id}, expected '${piece}'`);
  }
  if (meta['tokenizer.ggml.token_type'] !== undefined) {
    const types = numberList(meta['tokenizer.ggml.token_type']);
    if (!types || types.length !== tokens.length) throw bad('tokenizer.ggml.token_type', `must hold ${tokens.length} numbers`);
    // Control or user-defined tokens past the three specials would be added tokens (chat markers); the converter has none.
    const extra = types.findIndex((t, id) => id > 2 && (t === TOKEN_TYPE.control || t === TOKEN_TYPE.userDefined));
    if (extra >= 0) {
      throw bad(
        'tokenizer.ggml.token_type',
        `marks token ${extra} (${JSON.stringify(tokens[extra])}) as control/user-defined; only <unk>, <s> and </s> are supported as special tokens`,
      );
    }
  }
  const maxTokenLength = tokens.reduce((m, t) => Math.max(m, new TextEncoder().encode(t).byteLength), 1);
  return convertLlama2cTokenizer(
    { maxTokenLength, pieces: tokens, scores: Float32Array.from(scores) },
    `${name} (tokenizer.ggml.tokens)`,
    modelMaxLength,
  );
}

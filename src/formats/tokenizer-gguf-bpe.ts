import type { MetadataValue } from '@huggingface/gguf';
import { ShrinkrayError } from '../errors.ts';
import { GGUF_PRE_TOKENIZERS } from './tokenizer-gguf-pre.ts';
import type { ConvertedTokenizer } from './tokenizer-llama2c.ts';

/**
 * A GGUF `gpt2` vocabulary (byte-level BPE: Llama 3.x, Qwen2/2.5/3, SmolLM2) as tokenizer.json +
 * tokenizer_config.json. llama.cpp's converter writes one token per embedding row, in id order:
 * the BPE vocabulary in GPT-2's byte-to-character spelling, added tokens as their raw text
 * (token_type CONTROL when special, USER_DEFINED otherwise) and `[PAD<id>]` fillers (UNUSED)
 * where the tokenizer has no id below the embedding's row count; merges as "left right"
 * strings, rank = position. Here that is turned back: NORMAL/UNKNOWN/BYTE tokens into the BPE
 * vocabulary, CONTROL/USER_DEFINED into added_tokens, UNUSED fillers dropped (the published
 * tokenizer has no token there either); the pre-tokenizer from tokenizer.ggml.pre.
 */
const TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface ConvertedBpeTokenizer extends ConvertedTokenizer {
  /** eos, eot and eom ids as the file lists them (generation stops at each). */
  readonly endTokenIds: number[];
}

/** GPT-2's byte-to-character map: printable bytes stand for themselves, the rest shift to U+0100 and up. */
function byteLevelAlphabet(): string[] {
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    chars.push(String.fromCodePoint(printable ? b : 256 + shifted++));
  }
  return chars;
}

const KNOWN_TYPES = new Set<number>(Object.values(TYPE));

export function convertGgufBpeTokenizer(
  meta: Readonly<Record<string, MetadataValue>>,
  name: string,
  tokens: readonly string[],
  modelMaxLength: number,
): ConvertedBpeTokenizer {
  const bad = (key: string, problem: string) => new ShrinkrayError('bad_file', `${name}: metadata key '${key}' ${problem}`);
  const pre = meta['tokenizer.ggml.pre'];
  const supported = Object.keys(GGUF_PRE_TOKENIZERS).join(', ');
  if (pre === undefined) {
    throw bad(
      'tokenizer.ggml.pre',
      `is missing: a 'gpt2' vocabulary needs it to know how text is split before BPE (llama.cpp falls back to 'default' and warns ` +
        `that generation quality degrades; Shrinkray refuses rather than split differently from training). Supported: ${supported}`,
    );
  }
  const preTokenizer = typeof pre === 'string' && Object.hasOwn(GGUF_PRE_TOKENIZERS, pre) ? GGUF_PRE_TOKENIZERS[pre] : undefined;
  if (!preTokenizer) {
    throw bad(
      'tokenizer.ggml.pre',
      `is ${JSON.stringify(pre)}, a pre-tokenizer Shrinkray does not know: its split regex decides the ids, so it is refused ` +
        `rather than guessed. Supported: ${supported}`,
    );
  }
  const rawTypes = meta['tokenizer.ggml.token_type'];
  if (!Array.isArray(rawTypes) || rawTypes.length !== tokens.length || !rawTypes.every((t) => typeof t === 'number')) {
    throw bad('tokenizer.ggml.token_type', `must be ${tokens.length} numbers, one per token (it marks which tokens are special)`);
  }
  const types = rawTypes as number[];

  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  const addedTokens: Record<string, unknown>[] = [];
  const decoder: Record<string, unknown> = {};
  for (let id = 0; id < tokens.length; id++) {
    const type = types[id]!;
    const token = tokens[id]!;
    if (!KNOWN_TYPES.has(type))
      throw bad('tokenizer.ggml.token_type', `gives token ${id} (${JSON.stringify(token)}) the unknown type ${type}`);
    if (type === TYPE.unused) continue;
    if (type === TYPE.control || type === TYPE.userDefined) {
      const special = type === TYPE.control;
      addedTokens.push({ id, content: token, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
      decoder[String(id)] = { content: token, lstrip: false, normalized: false, rstrip: false, single_word: false, special };
      continue;
    }
    if (vocab[token] !== undefined) {
      throw bad(
        'tokenizer.ggml.tokens',
        `holds ${JSON.stringify(token)} twice (ids ${vocab[token]} and ${id}); a BPE vocabulary maps each piece to one id`,
      );
    }
    vocab[token] = id;
  }
  // Without every byte's character, some text has no encoding at all (byte-level BPE has no fallback).
  const missingByte = byteLevelAlphabet().findIndex((c) => vocab[c] === undefined);
  if (missingByte >= 0) {
    throw bad(
      'tokenizer.ggml.tokens',
      `lacks the byte-level token for byte 0x${missingByte.toString(16).padStart(2, '0')} (${JSON.stringify(byteLevelAlphabet()[missingByte])}): not a byte-level BPE vocabulary`,
    );
  }

  const rawMerges = meta['tokenizer.ggml.merges'];
  if (!Array.isArray(rawMerges) || !rawMerges.every((m) => typeof m === 'string')) {
    throw bad('tokenizer.ggml.merges', "is missing or not a list of strings: a 'gpt2' vocabulary ranks its merges by it");
  }
  const merges: [string, string][] = [];
  (rawMerges as string[]).forEach((merge, rank) => {
    const at = merge.indexOf(' ', 1); // as llama.cpp splits it: the first space after the first character
    const where = `entry ${rank} (${JSON.stringify(merge)})`;
    if (at < 0) throw bad('tokenizer.ggml.merges', `${where} is not two tokens separated by a space`);
    const pair: [string, string] = [merge.slice(0, at), merge.slice(at + 1)];
    for (const piece of [...pair, pair[0] + pair[1]]) {
      if (vocab[piece] === undefined) {
        throw bad('tokenizer.ggml.merges', `${where} names ${JSON.stringify(piece)}, which is not a token of tokenizer.ggml.tokens`);
      }
    }
    merges.push(pair);
  });

  const idKey = (key: string): number | undefined => {
    const v = meta[key];
    if (v === undefined) return undefined;
    const id = Number(v);
    if (!Number.isInteger(id) || id < 0 || id >= tokens.length || types[id] === TYPE.unused) {
      throw bad(key, `is ${String(v)}, not the id of a token of tokenizer.ggml.tokens (${tokens.length} tokens)`);
    }
    return id;
  };
  const bos = idKey('tokenizer.ggml.bos_token_id');
  const eos = idKey('tokenizer.ggml.eos_token_id');
  const pad = idKey('tokenizer.ggml.padding_token_id');
  const endTokenIds = [eos, idKey('tokenizer.ggml.eot_token_id'), idKey('tokenizer.ggml.eom_token_id')].filter(
    (id, i, all): id is number => id !== undefined && all.indexOf(id) === i,
  );
  const addBosKey = meta['tokenizer.ggml.add_bos_token'];
  if (addBosKey !== undefined && typeof addBosKey !== 'boolean')
    throw bad('tokenizer.ggml.add_bos_token', `must be true or false, got ${JSON.stringify(addBosKey)}`);
  const addBos = (addBosKey ?? preTokenizer.addBosDefault) && bos !== undefined;

  const bosToken = bos === undefined ? null : tokens[bos]!;
  const postProcessor = addBos
    ? {
        type: 'Sequence',
        processors: [
          { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
          {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: bosToken, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [
              { SpecialToken: { id: bosToken, type_id: 0 } },
              { Sequence: { id: 'A', type_id: 0 } },
              { SpecialToken: { id: bosToken, type_id: 1 } },
              { Sequence: { id: 'B', type_id: 1 } },
            ],
            special_tokens: { [bosToken!]: { id: bosToken, ids: [bos], tokens: [bosToken] } },
          },
        ],
      }
    : { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };

  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: preTokenizer.normalizer,
    pre_tokenizer: preTokenizer.preTokenizer,
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: preTokenizer.ignoreMerges,
      vocab,
      merges,
    },
  };
  const template = meta['tokenizer.chat_template'];
  if (template !== undefined && typeof template !== 'string') throw bad('tokenizer.chat_template', 'must be a string (a Jinja template)');
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: addBos,
    add_eos_token: false,
    bos_token: bosToken,
    eos_token: eos === undefined ? null : tokens[eos],
    ...(pad === undefined ? {} : { pad_token: tokens[pad] }),
    clean_up_tokenization_spaces: preTokenizer.cleanSpaces,
    model_max_length: modelMaxLength,
    added_tokens_decoder: decoder,
    ...(template === undefined ? {} : { chat_template: template }),
  };
  return { tokenizerJson, tokenizerConfig, endTokenIds };
}

import type { MetadataValue } from '@huggingface/gguf';
import { ShrinkrayError } from '../errors.ts';
import type { ConvertedBpeTokenizer } from './tokenizer-gguf-bpe.ts';

/**
 * A GGUF 'llama' (SentencePiece BPE) vocabulary without the dummy prefix
 * (tokenizer.ggml.add_space_prefix false: Gemma's), with its added tokens wherever they sit,
 * written as the tokenizer.json transformers' GemmaConverter (convert_slow_tokenizer.py) makes
 * from the same SentencePiece model, so that it encodes alike:
 * - spaces become '▁' (normalizer), BPE with byte fallback over every piece, unk from the file;
 * - merges as transformers' generate_merges builds them: every split of a piece into two pieces,
 *   ordered by the merged piece's SentencePiece score (highest first), then the left and the
 *   right half's length in code points (longest first), then piece id and the halves' ids;
 * - control tokens (llama.cpp's CONTROL: the tokenizer's special added tokens and those that look
 *   special) and user-defined ones become added tokens, special and not.
 * What llama.cpp's converter (_set_vocab_sentencepiece) changed is undone: it gives every added
 * token the score -1000, where SentencePiece gives user-defined and control pieces 0, so they are
 * ranked with 0 here; it spells spaces in user-defined tokens as ' ', so '▁' is put back.
 * A vocabulary with the dummy prefix keeps to the llama2.c path (tokenizer-gguf.ts).
 */
const TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;
const SPACE = '\u2581';

interface Candidate {
  left: string;
  right: string;
  score: number;
  leftLen: number;
  rightLen: number;
  merged: number;
  leftId: number;
  rightId: number;
}

/** transformers' generate_merges(vocab, vocab_scores): the stable sort it runs, as one comparison. */
export function spmMerges(pieces: readonly string[], scores: ArrayLike<number>): [string, string][] {
  const ids = new Map<string, number>();
  pieces.forEach((p, id) => ids.set(p, id));
  const candidates: Candidate[] = [];
  pieces.forEach((piece, merged) => {
    // Split between code points, as Python slices: never inside a surrogate pair.
    let k = 0;
    const total = piece.length - (piece.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
    for (let i = 1; i < piece.length; i++) {
      const code = piece.charCodeAt(i);
      if (code >= 0xdc00 && code <= 0xdfff && i > 0 && piece.charCodeAt(i - 1) >= 0xd800 && piece.charCodeAt(i - 1) <= 0xdbff) continue;
      k++;
      const leftId = ids.get(piece.slice(0, i));
      if (leftId === undefined) continue;
      const rightId = ids.get(piece.slice(i));
      if (rightId === undefined) continue;
      candidates.push({
        left: pieces[leftId]!,
        right: pieces[rightId]!,
        score: scores[merged]!,
        leftLen: k,
        rightLen: total - k,
        merged,
        leftId,
        rightId,
      });
    }
  });
  candidates.sort(
    (a, b) =>
      b.score - a.score ||
      b.leftLen - a.leftLen ||
      b.rightLen - a.rightLen ||
      a.merged - b.merged ||
      a.leftId - b.leftId ||
      a.rightId - b.rightId,
  );
  return candidates.map((c) => [c.left, c.right]);
}

export function convertGgufSpmTokenizer(
  meta: Readonly<Record<string, MetadataValue>>,
  name: string,
  tokens: readonly string[],
  scores: readonly number[],
  modelMaxLength: number,
): ConvertedBpeTokenizer {
  const bad = (key: string, problem: string) => new ShrinkrayError('bad_file', `${name}: metadata key '${key}' ${problem}`);
  const rawTypes = meta['tokenizer.ggml.token_type'];
  if (!Array.isArray(rawTypes) || rawTypes.length !== tokens.length || !rawTypes.every((t) => Object.values(TYPE).includes(t as 1)))
    throw bad('tokenizer.ggml.token_type', `must be ${tokens.length} token types (1-6), one per token: it marks the added tokens`);
  const types = rawTypes as number[];
  const added = (id: number) => types[id] === TYPE.control || types[id] === TYPE.userDefined;
  const pieces = tokens.map((t, id) => (types[id] === TYPE.userDefined ? t.replaceAll(' ', SPACE) : t));
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  pieces.forEach((p, id) => {
    if (vocab[p] !== undefined) throw bad('tokenizer.ggml.tokens', `holds ${JSON.stringify(p)} twice (ids ${vocab[p]} and ${id})`);
    vocab[p] = id;
  });
  for (let b = 0; b < 256; b++) {
    const piece = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    if (vocab[piece] === undefined || types[vocab[piece]] !== TYPE.byte)
      throw bad('tokenizer.ggml.tokens', `lacks the byte token '${piece}': a SentencePiece vocabulary falls back to bytes`);
  }
  const idKey = (key: string, required: boolean): number | undefined => {
    const v = meta[key];
    if (v === undefined) {
      if (required) throw bad(key, 'is missing');
      return undefined;
    }
    const id = Number(v);
    if (!Number.isInteger(id) || id < 0 || id >= tokens.length) throw bad(key, `is ${String(v)}, not a token id below ${tokens.length}`);
    return id;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = meta[key] ?? fallback;
    if (typeof v !== 'boolean') throw bad(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const bos = idKey('tokenizer.ggml.bos_token_id', true)!;
  const eos = idKey('tokenizer.ggml.eos_token_id', true)!;
  const unk = idKey('tokenizer.ggml.unknown_token_id', false) ?? types.indexOf(TYPE.unknown);
  if (unk < 0) throw bad('tokenizer.ggml.unknown_token_id', 'is missing and no token is of the unknown type');
  const pad = idKey('tokenizer.ggml.padding_token_id', false);
  const endTokenIds = [eos, idKey('tokenizer.ggml.eot_token_id', false), idKey('tokenizer.ggml.eom_token_id', false)].filter(
    (id, i, all): id is number => id !== undefined && all.indexOf(id) === i,
  );
  const addBos = flag('tokenizer.ggml.add_bos_token', true); // llama.cpp's default for SentencePiece vocabularies
  const addEos = flag('tokenizer.ggml.add_eos_token', false);
  const template = meta['tokenizer.chat_template'];
  if (template !== undefined && typeof template !== 'string') throw bad('tokenizer.chat_template', 'must be a string (a Jinja template)');

  const rankScores = scores.map((s, id) => (added(id) ? 0 : s));
  const addedTokens = pieces.flatMap((content, id) =>
    added(id)
      ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[id] === TYPE.control }]
      : [],
  );
  const edge = (id: number, typeId: number) => ({ SpecialToken: { id: pieces[id], type_id: typeId } });
  const template2 = (typeId: number, seq: string) => [
    ...(addBos ? [edge(bos, typeId)] : []),
    { Sequence: { id: seq, type_id: typeId } },
    ...(addEos ? [edge(eos, typeId)] : []),
  ];
  const specials = [...(addBos ? [bos] : []), ...(addEos ? [eos] : [])];
  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
    pre_tokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: template2(0, 'A'),
      pair: [...template2(0, 'A'), ...template2(1, 'B')],
      special_tokens: Object.fromEntries(specials.map((id) => [pieces[id], { id: pieces[id], ids: [id], tokens: [pieces[id]] }])),
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: SPACE }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: pieces[unk],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: spmMerges(pieces, rankScores),
    },
  };
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: meta['general.architecture'] === 'gemma3' ? 'GemmaTokenizer' : 'PreTrainedTokenizerFast',
    add_bos_token: addBos,
    add_eos_token: addEos,
    bos_token: pieces[bos],
    eos_token: pieces[eos],
    unk_token: pieces[unk],
    pad_token: pad === undefined ? null : pieces[pad],
    clean_up_tokenization_spaces: false,
    spaces_between_special_tokens: false,
    model_max_length: modelMaxLength,
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])),
    ...(template === undefined ? {} : { chat_template: template }),
  };
  return { tokenizerJson, tokenizerConfig, endTokenIds };
}

import { ShrinkrayError } from '../errors.ts';
import type { Llama2cTokenizer } from './llama2c.ts';

/**
 * Converts llama2.c's tokenizer to a Hugging Face tokenizer.json that encodes exactly as
 * llama2.c's `encode()` does: a dummy-prefix space, one token per character (else its UTF-8
 * bytes as <0xXX> tokens, ids byte+3), then repeated merging of the adjacent pair whose
 * merged piece scores highest. A BPE model whose merges are ranked by the merged piece's
 * score is the same algorithm (SentencePiece BPE); transformers' own Llama converter
 * (convert_slow_tokenizer.py) builds merges the same way.
 */
const SPACE = '\u2581'; // '▁', SentencePiece's visible space
const UNK = '<unk>';
const BOS = '<s>';
const EOS = '</s>';
const FIRST_BYTE_ID = 3; // llama2.c: byte b is token b + 3
const SPECIAL_IDS = [0, 1, 2]; // unk, bos, eos are hard-wired in llama2.c's run.c

export interface ConvertedTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

function hfPiece(id: number, piece: string): string {
  if (id === 0) return UNK;
  if (id === 1) return BOS; // llama2.c spells it "\n<s>\n"
  if (id === 2) return EOS;
  return piece.replaceAll(' ', SPACE);
}

/**
 * Every pair (left, right) with left, right and left+right all in the vocabulary, ranked by
 * the merged piece's score, best first. Pieces with equal score keep vocabulary order; the
 * splits of one piece are ordered by the ids of their halves, as transformers does.
 */
export function buildMerges(vocab: ReadonlyMap<string, number>, scores: ArrayLike<number>): [string, string][] {
  const candidates: { left: string; right: string; merged: number; leftId: number; rightId: number }[] = [];
  for (const [piece, id] of vocab) {
    if (SPECIAL_IDS.includes(id)) continue;
    const chars = Array.from(piece); // split on code points: halves of a surrogate pair are never pieces
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      const leftId = vocab.get(left);
      const rightId = vocab.get(right);
      if (leftId === undefined || rightId === undefined) continue;
      if (SPECIAL_IDS.includes(leftId) || SPECIAL_IDS.includes(rightId)) continue;
      candidates.push({ left, right, merged: id, leftId, rightId });
    }
  }
  candidates.sort((a, b) => scores[b.merged]! - scores[a.merged]! || a.merged - b.merged || a.leftId - b.leftId || a.rightId - b.rightId);
  return candidates.map((c) => [c.left, c.right]);
}

export function convertLlama2cTokenizer(tok: Llama2cTokenizer, name: string, modelMaxLength: number): ConvertedTokenizer {
  const bad = (problem: string) => new ShrinkrayError('bad_file', `${name}: cannot convert the tokenizer: ${problem}`);
  if (tok.pieces.length < FIRST_BYTE_ID + 256) throw bad(`it has ${tok.pieces.length} tokens, fewer than 3 special + 256 byte tokens`);
  for (let b = 0; b < 256; b++) {
    const expected = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    if (tok.pieces[FIRST_BYTE_ID + b] !== expected) {
      throw bad(`token ${FIRST_BYTE_ID + b} is ${JSON.stringify(tok.pieces[FIRST_BYTE_ID + b])}, expected the byte token '${expected}'`);
    }
  }
  const vocab = new Map<string, number>();
  tok.pieces.forEach((piece, id) => {
    const key = hfPiece(id, piece);
    if (vocab.has(key)) throw bad(`token ${id} ${JSON.stringify(piece)} duplicates token ${vocab.get(key)}`);
    vocab.set(key, id);
  });
  const merges = buildMerges(vocab, tok.scores);
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });

  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, UNK), special(1, BOS), special(2, EOS)],
    // llama2.c has no pre-tokenizer: the whole text is one word, with a dummy-prefix space.
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: SPACE },
        { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: BOS, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: BOS, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [BOS]: { id: BOS, ids: [1], tokens: [BOS] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNK,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };

  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'LlamaTokenizer',
    bos_token: BOS,
    eos_token: EOS,
    unk_token: UNK,
    pad_token: null,
    add_bos_token: true,
    add_eos_token: false,
    // legacy: true keeps the normalizer above; transformers' non-legacy path swaps in a
    // Metaspace pre-tokenizer that would split words, which llama2.c never does.
    legacy: true,
    add_prefix_space: null,
    clean_up_tokenization_spaces: false,
    spaces_between_special_tokens: false,
    model_max_length: modelMaxLength,
    sp_model_kwargs: {},
    added_tokens_decoder: Object.fromEntries(
      [
        [0, UNK],
        [1, BOS],
        [2, EOS],
      ].map(([id, content]) => [
        String(id),
        { content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ]),
    ),
  };
  return { tokenizerJson, tokenizerConfig };
}

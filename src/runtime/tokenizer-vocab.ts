import { ShrinkrayError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';

/**
 * Whether a tokenizer belongs with a model's embedding, checked where a model folder is
 * opened. Two ways a tokenizer of another model shows:
 * - larger: its model vocabulary (tokenizer.json "model.vocab", every id plain text can
 *   encode to) has more entries than the embedding has rows (config.json vocab_size);
 * - smaller: a special id the config names (bos_token_id, eos_token_id, generation_config's
 *   eos_token_id) is no token of the tokenizer, e.g. a Llama 2 tokenizer (32000 tokens)
 *   beside a Llama 3 config (eos 128009).
 * A vocab_size padded above the tokenizer is how models are published (Qwen2.5: 151936 rows,
 * 151665 tokens) and passes. So do added tokens above vocab_size (gemma-3-1b: 262144 rows;
 * its tokenizer's <image_soft_token> is id 262144): no plain text encodes to them, and
 * TextTokenizer.encode refuses a text that names one.
 */
export interface TokenizerFit {
  tokenizerJson: Record<string, unknown>;
  /** The tokenizer's own lookup: undefined for an id it does not have. */
  idToToken: (id: number) => string | undefined;
  config: ModelConfig;
  /** Special ids to look up, with the file and field that name them. */
  namedIds: readonly { id: number; file: string; field: string }[];
  names: { tokenizer: string; config: string };
}

/** Entries of tokenizer.json's model vocabulary: a token -> id map (BPE, WordLevel, WordPiece) or a [piece, score] list (Unigram). */
export function modelVocabularySize(tokenizerJson: Record<string, unknown>): number | null {
  const model = tokenizerJson.model as { vocab?: unknown } | null | undefined;
  const vocab = model?.vocab;
  if (Array.isArray(vocab)) return vocab.length;
  if (typeof vocab !== 'object' || vocab === null) return null;
  let size = 0;
  for (const id of Object.values(vocab)) if (typeof id === 'number' && id + 1 > size) size = id + 1;
  return size;
}

export function checkTokenizerFit(f: TokenizerFit): void {
  const size = modelVocabularySize(f.tokenizerJson);
  if (size !== null && size > f.config.vocabSize) {
    throw new ShrinkrayError(
      'bad_file',
      `${f.names.tokenizer}: its vocabulary (model.vocab) has ${size} tokens, more than the ${f.config.vocabSize} rows of the ` +
        `model's embedding (${f.names.config} vocab_size): is it the tokenizer of another model?`,
    );
  }
  for (const { id, file, field } of f.namedIds) {
    if (f.idToToken(id) !== undefined) continue;
    throw new ShrinkrayError(
      'bad_file',
      `${file}: field '${field}' names token ${id}, which ${f.names.tokenizer} does not have ` +
        `(it has ${tokenCount(f.tokenizerJson, size)} token ids): is the tokenizer from another model?`,
    );
  }
}

/** One past the highest id of the model vocabulary and the added tokens. */
function tokenCount(tokenizerJson: Record<string, unknown>, modelSize: number | null): number {
  const added = Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as { id?: unknown }[]) : [];
  return added.reduce((n, t) => (typeof t?.id === 'number' && t.id + 1 > n ? t.id + 1 : n), modelSize ?? 0);
}

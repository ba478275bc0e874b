import { ShrinkrayError } from '../errors.ts';
import type { DisplayName, OpenModelFile } from '../formats/byte-source.ts';
import { readJsonSource } from '../formats/json-file.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import type { ModelConfig } from '../model/config.ts';

/**
 * A draft's proposals are token ids that the original checks against its own: they only mean
 * the same text when both models share one tokenizer. A compressed model carries its
 * original's tokenizer files unchanged, so anything that differs means another model.
 */
export interface DraftSide {
  /** The folder or stored model, as messages name it. */
  where: string;
  open: OpenModelFile;
  display?: DisplayName;
  config: ModelConfig;
}

// The parts of tokenizer.json that decide which text an id stands for, in the order they are compared.
const SECTIONS = ['added_tokens', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;

/** Throws 'bad_argument' naming both models and the first thing that differs: the vocabulary size, a token, a merge or a section. */
export async function checkDraftFits(original: DraftSide, draft: DraftSide): Promise<void> {
  const refuse = (what: string): never => {
    throw new ShrinkrayError(
      'bad_argument',
      `the draft ${draft.where} cannot draft for ${original.where}: ${what}; a draft must share the original's tokenizer`,
    );
  };
  if (original.config.vocabSize !== draft.config.vocabSize) {
    refuse(`config.json vocab_size is ${draft.config.vocabSize} in the draft, ${original.config.vocabSize} in the original`);
  }
  const [a, b] = await Promise.all([tokenizerJson(original), tokenizerJson(draft)]);
  const [ma, mb] = [record(a.model), record(b.model)];
  if (ma.type !== mb.type) refuse(`tokenizer.json model.type is ${String(mb.type)} in the draft, ${String(ma.type)} in the original`);
  const [va, vb] = [vocabEntries(ma.vocab), vocabEntries(mb.vocab)];
  if (va.length !== vb.length) refuse(`tokenizer.json model.vocab has ${vb.length} tokens in the draft, ${va.length} in the original`);
  for (let i = 0; i < va.length; i++) {
    if (va[i] !== vb[i]) refuse(`tokenizer.json model.vocab differs at entry ${i}: ${vb[i]} in the draft, ${va[i]} in the original`);
  }
  if (JSON.stringify(ma.merges ?? null) !== JSON.stringify(mb.merges ?? null)) refuse('tokenizer.json model.merges differ');
  for (const section of SECTIONS) {
    if (JSON.stringify(a[section] ?? null) !== JSON.stringify(b[section] ?? null)) refuse(`tokenizer.json ${section} differs`);
  }
}

async function tokenizerJson(side: DraftSide): Promise<Record<string, unknown>> {
  const src = await side.open(MODEL_FILES.tokenizer);
  const name = (side.display ?? ((p: string) => p))(MODEL_FILES.tokenizer);
  if (!src) throw new ShrinkrayError('missing_file', `${name} is missing: ${side.where} has no ${MODEL_FILES.tokenizer}`);
  return readJsonSource(src);
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * The vocabulary as one JSON string per entry, ordered by id: BPE and WordPiece write
 * {token: id}, Unigram writes [[token, score], ...] (its order is the ids).
 */
function vocabEntries(vocab: unknown): string[] {
  if (Array.isArray(vocab)) return vocab.map((e) => JSON.stringify(e));
  return Object.entries(record(vocab))
    .sort((x, y) => Number(x[1]) - Number(y[1]) || (x[0] < y[0] ? -1 : 1))
    .map(([token, id]) => `id ${String(id)} = ${JSON.stringify(token)}`);
}
